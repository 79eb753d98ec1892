"""A batch of points ready to train: expanded with its seeds, its data loaded, grouped into stacks, halving set.

A grid sweep is one batch; a TPE search is several (each asked, trained, told), joined at the end
into the one list of trials, splits, groups and results that the sweep folder is written from.
"""

from dataclasses import dataclass, field

from nnlab.sweep.plan import Group, Trial, expand_points, plan


@dataclass
class Batch:
    """Trials (points x seeds), their splits, and the groups they train in (indices into `trials`)."""

    trials: list[Trial]
    splits: list
    groups: list[Group]
    results: list = field(default_factory=list)  # filled once trained, in trial order
    seconds: float = 0.0  # training time (the loops, or the cluster's tasks)
    planned: int = 0  # runs planned (more than `trials` once an interrupted cluster batch keeps what finished)

    @property
    def n_points(self) -> int:
        return len({t.point for t in self.trials})


def prepare_batch(config, overrides: list[str], points: list[dict], seeds: list[int] | None, *, vectorize: bool = True,
                  first: int = 0, halving: tuple[int, int | None] | None = None, folds: int | None = None) -> Batch:
    """Expand `points` (numbered from `first`) x `seeds` (x `folds`), load their data once per seed, plan the
    stacks; `halving` = (eta, min_epochs) sets each stack's rungs."""
    return batch_of(expand_points(config, overrides, points, seeds, first, folds, flag="--param"),
                    vectorize=vectorize, halving=halving)


def batch_of(trials: list[Trial], *, vectorize: bool = True, halving: tuple[int, int | None] | None = None) -> Batch:
    """prepare_batch() for trials already expanded (and so validated)."""
    from nnlab.data import load_many

    splits = load_many([t.cfg for t in trials])
    groups = plan(trials, splits, vectorize=vectorize)
    if halving is not None:
        from nnlab.sweep.halving import plan_halving

        groups = plan_halving(trials, groups, *halving)
    return Batch(trials, splits, groups, planned=len(trials))


def join(batches: list[Batch]) -> Batch:
    """One batch of all of them: groups renumbered to index the joined trial list."""
    joined = Batch([], [], [], [], planned=sum(b.planned for b in batches))
    for b in batches:
        offset = len(joined.trials)
        joined.trials += b.trials
        joined.splits += b.splits
        joined.results += b.results
        joined.seconds += b.seconds
        joined.groups += [Group([i + offset for i in g.trials], g.path, g.reason, g.halving) for g in b.groups]
    return joined
