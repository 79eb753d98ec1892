"""Reading a config: safe YAML (1e-3 is a number, duplicate keys refused), key=value overrides, validation."""

import re
from pathlib import Path

import yaml
from pydantic import ValidationError

from nnlab.config.messages import describe_error
from nnlab.config.schema import RunConfig
from nnlab.errors import ConfigError
from nnlab.limits import MAX_PROBLEMS

_SAFE = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's parser: pure Python takes ~30 s for a 1 MB file


class _Loader(_SAFE):
    """SafeLoader that reads 1e-3 as a number and refuses duplicate keys."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key '{key}'", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep)


# YAML 1.1 wants a dot in floats ("1.0e-3"); people write 1e-3. Same resolver, looser regex.
_Loader.yaml_implicit_resolvers = {k: list(v) for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
                   |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
                   |\.[0-9_]+(?:[eE][-+][0-9]+)?
                   |[-+]?\.(?:inf|Inf|INF)
                   |\.(?:nan|NaN|NAN))$""", re.X),
    list("-+0123456789."))


def parse_yaml(text: str, where: str):
    """Parse YAML text safely; any failure is a ConfigError naming `where`."""
    try:
        loader = _Loader(text)  # what yaml.safe_load does, with our SafeLoader subclass
        try:
            value = loader.get_single_data()
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as e:
        if "nesting depth" in str(e.problem):  # PyYAML >= 6.0.4 bounds the depth itself
            raise ConfigError(f"{where}: nested too deeply to be a config") from None
        mark = e.problem_mark or e.context_mark
        line = f" line {mark.line + 1}" if mark else ""
        raise ConfigError(f"{where}:{line}: {e.problem or e.context}".replace("\n", " ")) from None
    except yaml.YAMLError as e:
        raise ConfigError(f"{where}: not valid YAML: {e}".replace("\n", " ")) from None
    except RecursionError:
        raise ConfigError(f"{where}: nested too deeply to be a config") from None
    if not nested_within(value, MAX_DEPTH):
        raise ConfigError(f"{where}: nested too deeply to be a config")
    return value


MAX_DEPTH = 32  # levels of mappings and lists: a config has four


def nested_within(value, limit: int) -> bool:
    """No more than `limit` levels of lists and mappings; checked level by level without recursion, each shared
    container (a YAML alias) once per level, so a billion-laughs document costs its size, not its expansion."""
    level = {id(value): value} if isinstance(value, (dict, list)) else {}
    for _ in range(limit):
        if not level:
            return True
        level = {id(child): child for node in level.values()
                 for child in (node.values() if isinstance(node, dict) else node) if isinstance(child, (dict, list))}
    return not level


MAX_CONFIG_BYTES = 1 << 20  # a config is a few hundred bytes; a megabyte is not one


def read_config_file(path: Path) -> dict:
    """The raw mapping in a config file (a regular file: a FIFO or a device would block the read)."""
    import stat

    try:
        info = Path(path).stat()
        if stat.S_ISDIR(info.st_mode):
            raise IsADirectoryError
        if not stat.S_ISREG(info.st_mode):
            raise ConfigError(f"{path}: not a regular file (a pipe or a device); give a YAML config file")
        if info.st_size > MAX_CONFIG_BYTES:
            raise ConfigError(f"{path}: {info.st_size:,} bytes is too big for a config (at most {MAX_CONFIG_BYTES:,}); "
                              "give a YAML config file")
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a folder; give a YAML config file") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text; save the config as UTF-8") from None
    except OSError as e:
        raise ConfigError(f"{path}: cannot read: {e.strerror}") from None
    raw = parse_yaml(text, str(path))
    if raw is None:
        raise ConfigError(f"{path}: the file is empty; see README.md for the config keys")
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of keys (name, data, model, ...), "
                          f"not a {type(raw).__name__}")
    return raw


def apply_overrides(raw: dict, overrides: list[str], where: str) -> dict:
    """Set each dotted `key=value` (value read as YAML) in a copy of `raw`."""
    import copy

    raw = copy.deepcopy(raw)
    for item in overrides:
        key, sep, text = item.partition("=")
        if not sep or not re.fullmatch(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*", key):
            raise ConfigError(f"override '{item}': expected key=value with a dotted key, "
                              "for example optimizer.lr=0.1")
        value = parse_yaml(text, f"override '{item}'")
        node = raw
        parts = key.split(".")
        for i, part in enumerate(parts[:-1]):
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise ConfigError(f"override '{item}': {'.'.join(parts[:i + 1])} is not a section")
            node = child
        node[parts[-1]] = value
    return raw


def value_text(value) -> str:
    """An override's value as a user types it (0.1, [16, 16], true): the inverse of reading it as YAML."""
    import json

    return value if isinstance(value, str) else json.dumps(value)


def validate(raw: dict, where: str, named: dict[str, str] | None = None) -> RunConfig:
    """RunConfig from a raw mapping, or one ConfigError listing every problem by dotted key, each line starting with
    where the key was set: `where` (the file), or `named[key]` for a key set on the command line (--grid KEY=V)."""
    try:
        return RunConfig.model_validate(raw)
    except ValidationError as e:
        errors = e.errors(include_url=False)
        lines = list(dict.fromkeys(_located(describe_error(err, raw), where, named or {})
                                   for err in errors[:MAX_PROBLEMS]))
        if len(errors) > MAX_PROBLEMS:  # 100,000 unknown keys: say how many, do not describe each
            lines.append(f"{where}: ... and {len(errors) - MAX_PROBLEMS:,} more problems ({len(errors):,} in all)")
        raise ConfigError("\n".join(lines)) from None
    except RecursionError:
        raise ConfigError(f"{where}: nested too deeply to be a config") from None


def _located(line: str, where: str, named: dict[str, str]) -> str:
    """'where: key: problem', or 'LABEL: problem' when `named` says the key (or a section above it) was set as LABEL."""
    key, _, problem = line.partition(": ")
    for name, label in named.items():
        if key == name:
            return f"{label}: {problem}"
        if key.startswith(name + "."):
            return f"{label}: {line}"
    return f"{where}: {line}"


def load_config(path, overrides: list[str] = ()) -> RunConfig:
    """Read, override, validate (see config_from)."""
    return config_from(read_config_file(Path(path)), path, overrides)


def config_from(raw: dict, path, overrides: list[str] = (), named: dict[str, str] | None = None) -> RunConfig:
    """The RunConfig of the config file `path` holding `raw`, with `overrides` applied (`named`: see validate).

    The path rule: a relative data.path written in the config file resolves against the file's folder; one typed on
    the command line (an override, like eval's and predict's --data) against the current folder.
    """
    import copy

    path = Path(path)
    raw = absolute_data_path(copy.deepcopy(raw), path.parent)  # written in the file: against its folder
    raw = absolute_data_path(apply_overrides(raw, list(overrides), str(path)), Path.cwd())  # typed: the shell's
    raw.setdefault("name", re.sub(r"[^A-Za-z0-9._-]", "-", path.stem).lstrip("-._") or "run")
    return validate(raw, str(path), named)


def absolute_data_path(raw: dict, folder: Path) -> dict:
    """`raw` with a relative data.path made absolute against `folder` (in place; returns `raw`)."""
    data = raw.get("data")
    if isinstance(data, dict) and isinstance(data.get("path"), str) and data["path"]:
        data["path"] = str((folder / Path(data["path"]).expanduser()).resolve())
    return raw
