"""What each model of a stack keeps to itself: its rows (splits of unequal size, e.g. k-fold, padded and
masked), its minibatches and their accumulation weights, its loss, and, watched every epoch, its
validation score, early stop, best weights and lr schedule.

fit_stacked (stacked.py) runs the shared loop; these helpers are what makes model k come out as its
single run would (to float rounding).
"""

import torch

from nnlab.training.losses import masked_losses, stacked_losses
from nnlab.training.monitor import make_watch
from nnlab.training.schedule import make_schedule

# ---------------------------------------------------------------- rows: stacked, shared or padded


def stack_splits(splits: list, device) -> tuple[tuple, tuple, dict | None]:
    """((X_train, y_train, X_test, y_test), (X_val, y_val), rows): each (K, N, ...) on `device`.

    One copy expanded when every model has the same arrays; stacked when the shapes agree; otherwise
    zero-padded to the longest split, with `rows` {split: [rows of model k]} saying which rows are real.
    """
    K = len(splits)
    first = splits[0]
    if all(s is first or s.same_arrays(first) for s in splits[1:]):
        views = lambda ts: tuple(t.expand(K, *t.shape) for t in ts)  # noqa: E731 - (K, N, ...) views of one copy
        return views(first.tensors(device)), views(first.val_tensors(device)), None
    per_model = [(*s.tensors(device), *s.val_tensors(device)) for s in splits]
    if all(a.shape == b.shape for m in per_model[1:] for a, b in zip(m, per_model[0])):
        stacked = tuple(torch.stack(ts) for ts in zip(*per_model))
        return stacked[:4], stacked[4:], None
    padded = tuple(_pad_stack(ts) for ts in zip(*per_model))
    rows = {name: [len(m[i]) for m in per_model] for i, name in ((0, "train"), (2, "test"), (4, "val"))}
    return padded[:4], padded[4:], rows


def _pad_stack(tensors) -> torch.Tensor:
    n = max(len(t) for t in tensors)
    return torch.stack([torch.cat([t, t.new_zeros((n - len(t), *t.shape[1:]))]) if len(t) < n else t for t in tensors])


def row_mask(rows: dict | None, split: str, n: int, device) -> torch.Tensor | None:
    """(K, n) 1.0 where a row is model k's own; None when every model has all n rows."""
    if rows is None:
        return None
    return (torch.arange(n, device=device)[None] < torch.tensor(rows[split], device=device)[:, None]).float()


# ---------------------------------------------------------------- the loss of each model


def member_loss(setup):
    """(scores (K, N, o), y, mask or None) -> (K,): each model's loss over its own rows.

    Equal splits without class weights: each model's mean (or sum, for sse) of its per-row losses; padded
    rows or per-model class weights take the per-row form, masked.
    """
    if setup.rows is None and setup.class_weight is None:
        return lambda scores, y, mask=None: stacked_losses(setup.loss_name, scores, y)

    counted = {}  # id(mask) -> (mask, its row counts): a full batch's mask is the same tensor every epoch

    def masked(scores, y, mask=None):
        if mask is None:
            mask = scores.new_ones(scores.shape[:2])
        entry = counted.get(id(mask))
        if entry is None or entry[0] is not mask:
            if len(counted) > 8:  # minibatch masks are new every step: keep the few that repeat
                counted.clear()
            entry = counted[id(mask)] = (mask, mask.sum(1))
        return masked_losses(setup.loss_name, scores, y, mask, setup.class_weight, entry[1])

    return masked


# ---------------------------------------------------------------- minibatches


class MemberBatches:
    """Each epoch's minibatches for the stack: every model's own shuffle of its own rows, in batch_size slices,
    with the weight gradient accumulation gives each slice (None: one optimizer step per slice)."""

    def __init__(self, setup, batch_size: int | None, accumulate: int):
        from nnlab.training.setup import accumulation_weights

        X = setup.tensors[0]
        self.setup, self.K, self.n, self.device = setup, X.shape[0], X.shape[1], X.device
        self.sizes = setup.rows["train"] if setup.rows else [self.n] * self.K
        self.batch_size = min(batch_size or max(self.sizes), max(self.sizes))
        self.full = all(self.batch_size >= n for n in self.sizes)
        self.n_batches = 1 if self.full else -(-self.sizes[0] // self.batch_size)
        if not self.full and any(-(-n // self.batch_size) != self.n_batches for n in self.sizes):
            raise ValueError("models in a stack need the same number of minibatches per epoch")
        self.accumulate = accumulate
        weights = [accumulation_weights(setup.loss_name, n, self.batch_size, accumulate) for n in self.sizes]
        self.weights = None if weights[0] is None else \
            [torch.tensor([w[j] for w in weights], device=self.device) for j in range(self.n_batches)]
        self.shuffles = [torch.Generator().manual_seed(s) for s in setup.seeds]  # each model's single-run stream
        self.mask = row_mask(setup.rows, "train", self.n, self.device)

    def keep(self, index: list[int]) -> None:
        """Only the models at `index` stay (successive halving; setup.keep has compacted the tensors): their
        sizes, shuffle streams and accumulation weights."""
        self.K = len(index)
        self.sizes = [self.sizes[i] for i in index]
        self.shuffles = [self.shuffles[i] for i in index]
        if self.weights is not None:
            at = torch.tensor(index, device=self.device)
            self.weights = [w.index_select(0, at) for w in self.weights]
        self.mask = row_mask(self.setup.rows, "train", self.n, self.device)

    def step_due(self, j: int) -> bool:
        """After slice j (0-based), is it time for an optimizer step?"""
        return self.weights is None or (j + 1) % self.accumulate == 0 or j + 1 == self.n_batches

    def epoch(self):
        """(xb (K, B, F), yb, mask (K, B) or None, accumulation weight (K,) or None, each model's rows or None)
        per slice; a model's own rows come first, padding after."""
        X, y = self.setup.tensors[0], self.setup.tensors[1]
        if self.full:
            yield X, y, self.mask, None if self.weights is None else self.weights[0], self.setup.rows and self.sizes
            return
        models = torch.arange(self.K, device=self.device)[:, None]
        orders = [torch.randperm(n, generator=g) for n, g in zip(self.sizes, self.shuffles)]
        b = self.batch_size
        for j in range(self.n_batches):
            parts = [o[j * b:(j + 1) * b] for o in orders]
            width = max(len(p) for p in parts)
            idx = torch.stack([torch.cat([p, p.new_zeros(width - len(p))]) for p in parts]).to(self.device)
            mask = rows = None
            if self.setup.rows is not None:
                rows = [len(p) for p in parts]
                mask = (torch.arange(width)[None] < torch.tensor(rows)[:, None]).float().to(self.device)
            yield X[models, idx], y[models, idx], mask, None if self.weights is None else self.weights[j], rows


# ---------------------------------------------------------------- watched every epoch


class Members:
    """Per-model validation watch, early stop, best weights and lr schedule; which models still train."""

    def __init__(self, setup, cfg, lrs: list[float], has_val: bool):
        K = setup.stack.k
        self.cfg, self.K = cfg, K
        self.watches = [make_watch(cfg, has_val) for _ in range(K)]
        for watch in self.watches:
            if watch is not None:
                watch.keep_best = False  # the weights are kept here, sliced from the stack
        self.restore_best = cfg.early_stopping is not None and cfg.early_stopping.restore_best
        self.schedules = [make_schedule(cfg.scheduler, lr, cfg.epochs) for lr in lrs]
        self.active = [True] * K
        self.stopped_epoch: list[int | None] = [None] * K  # an early stop's epoch
        self.steps_at: list[int | None] = [None] * K
        self.diverged = [False] * K
        self.kept: dict | None = None  # (K, ...) copies of the stack's params: each model's weights to end with
        self.has_kept = [False] * K
        self.watching = has_val or cfg.scheduler is not None

    def lrs(self) -> list[float] | None:
        """Each model's lr for the next epoch (None without a schedule)."""
        return None if self.schedules[0] is None else [s.lr for s in self.schedules]

    def epoch_end(self, epoch: int, params: dict, val: list[dict], train_loss: list[float] | None,
                  diverged_at: list, steps: int) -> list[int]:
        """Watch epoch `epoch`: keep weights, step schedules; the models that stop now (early stopping)."""
        stopping, keep = [], []
        for k in range(self.K):
            if diverged_at[k] is not None and self.active[k]:  # no longer watched (its rows stop too)
                self.active[k], self.diverged[k] = False, True
            if not self.active[k]:
                continue
            watch = self.watches[k]
            if watch is not None:
                stop = watch.update(epoch, val[k][watch.monitor], [])
                if self.restore_best and watch.best_epoch == epoch:
                    keep.append(k)
                if stop:
                    stopping.append(k)
                    if not self.restore_best:
                        keep.append(k)  # the weights at its early stop
            schedule = self.schedules[k]
            if schedule is not None:
                monitor = getattr(self.cfg.scheduler, "monitor", None)
                schedule.step(None if monitor is None else train_loss[k] if monitor == "train_loss" else val[k][monitor])
        self._keep(params, keep)
        for k in stopping:
            self.active[k], self.stopped_epoch[k], self.steps_at[k] = False, epoch, steps
        return stopping

    @torch.no_grad()
    def _keep(self, params: dict, members: list[int]) -> None:
        if not members:
            return
        if self.kept is None:
            self.kept = {name: p.detach().clone() for name, p in params.items()}
        index = torch.tensor(members, device=next(iter(params.values())).device)
        for name, p in params.items():
            self.kept[name].index_copy_(0, index, p.detach().index_select(0, index))
        for k in members:
            self.has_kept[k] = True

    @torch.no_grad()
    def finish(self, params: dict, epochs: int, steps: int) -> list[dict]:
        """Put each model's kept weights back into the stack; each model's Fit stop fields."""
        members = [k for k in range(self.K) if self.has_kept[k]]
        if members:
            index = torch.tensor(members, device=next(iter(params.values())).device)
            for name, p in params.items():
                p.index_copy_(0, index, self.kept[name].index_select(0, index))
        return [self.info(k, epochs, steps) for k in range(self.K)]

    def info(self, k: int, epochs: int, steps: int) -> dict:
        """Model k's Fit stop fields (and steps), had training ended for it after epoch `epochs`."""
        watch = self.watches[k]
        early = self.stopped_epoch[k] is not None
        return {"stopped": "diverged" if self.diverged[k] else "early_stopping" if early else "epochs",
                "stopped_epoch": self.stopped_epoch[k] if early else epochs,
                "best_epoch": watch.best_epoch if watch else None, "monitor": watch.monitor if watch else None,
                "best": watch.best_value if watch else None, "steps": self.steps_at[k] if early else steps}

    def keep(self, index: list[int]) -> None:
        """Only the models at `index` stay in the stack (successive halving): their watches, schedules and kept
        weights, in that order."""
        def pick(values):
            return [values[i] for i in index]

        self.watches, self.schedules, self.active = pick(self.watches), pick(self.schedules), pick(self.active)
        self.stopped_epoch, self.steps_at = pick(self.stopped_epoch), pick(self.steps_at)
        self.diverged, self.has_kept = pick(self.diverged), pick(self.has_kept)
        if self.kept is not None:
            at = torch.tensor(index, device=next(iter(self.kept.values())).device)
            self.kept = {name: t.index_select(0, at) for name, t in self.kept.items()}
        self.K = len(index)
