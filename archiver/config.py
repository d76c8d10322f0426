"""config.toml → frozen dataclasses, one per table; unknown keys and wrong types are errors.

Each stage receives only its own table. Paths in ``[store]`` and ``[run]`` are resolved
against the directory of the config file, so ``python pipeline.py`` works from anywhere.
"""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Literal, get_args, get_origin, get_type_hints

from archiver.errors import ConfigError


@dataclass(frozen=True)
class IngestConfig:
    layout: str = "{authority}/{year}/{file}"  # path pattern under the inbox
    follow_links: bool = False  # links inside the inbox are followed only when they stay inside it


@dataclass(frozen=True)
class DecodeConfig:
    max_line_chars: int = 100_000  # a longer line is rejected as oversize_line
    min_confidence: float = 0.0  # chardet answers below this are rejected as decode


@dataclass(frozen=True)
class CleanConfig:
    traditional: Literal["auto", "always", "never"] = "auto"
    strip_pinyin: bool = True
    fullwidth_punctuation: bool = True
    split_runin_headings: bool = True


@dataclass(frozen=True)
class ChecksConfig:
    max_unpunctuated_run: int = 120  # Han characters in a row without punctuation


@dataclass(frozen=True)
class SplitConfig:
    max_passage_chars: int = 1000  # longer paragraphs are cut at sentence ends


@dataclass(frozen=True)
class FingerprintConfig:
    tokenizer: Literal["char", "jieba"] = "char"
    shingle_size: int = 3
    num_perm: int = 128
    bands: int = 32
    rows: int = 4
    seed: int = 1
    min_chars: int = 20  # shorter normalised passages get only an exact hash


@dataclass(frozen=True)
class MatchConfig:
    match_at: float = 0.5  # verified char-shingle Jaccard to record reuse
    remove_at: float = 0.9  # similarity at which a repeat inside a submission is removed
    max_candidates: int = 50  # earlier passages verified per passage, most shared bands first


@dataclass(frozen=True)
class StoreConfig:
    database: str = "archive/archive.sqlite3"  # a path (SQLite) or an SQLAlchemy URL
    vault: str = "archive/objects"
    # Band rows the recent level of the LSH index may hold; a run merges its fullest bands into
    # the main one until it fits.
    recent_band_rows: int = 1_000_000


@dataclass(frozen=True)
class RunConfig:
    inbox: tuple[str, ...] = ("samples",)
    workers: int = 0  # 0: one per core; 1: serial in this process
    batch_size: int = 64  # submissions per batch (memory bound and transaction size)
    executor: Literal["process", "dask"] = "process"
    dask_scheduler: str = ""  # address of a Dask scheduler when executor = "dask"


@dataclass(frozen=True)
class Config:
    ingest: IngestConfig = field(default_factory=IngestConfig)
    decode: DecodeConfig = field(default_factory=DecodeConfig)
    clean: CleanConfig = field(default_factory=CleanConfig)
    checks: ChecksConfig = field(default_factory=ChecksConfig)
    split: SplitConfig = field(default_factory=SplitConfig)
    fingerprint: FingerprintConfig = field(default_factory=FingerprintConfig)
    match: MatchConfig = field(default_factory=MatchConfig)
    store: StoreConfig = field(default_factory=StoreConfig)
    run: RunConfig = field(default_factory=RunConfig)
    base_dir: Path = field(default_factory=Path.cwd)

    def resolve(self, path: str) -> Path:
        """A config path made absolute against the config file's directory."""
        candidate = Path(path).expanduser()
        return candidate if candidate.is_absolute() else self.base_dir / candidate

    @property
    def database_url(self) -> str:
        if "://" in self.store.database:
            return self.store.database
        return f"sqlite:///{self.resolve(self.store.database)}"


def load(path: Path | None) -> Config:
    """Read ``path`` (None: built-in defaults) into a validated ``Config``."""
    if path is None:
        return Config()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"{path}: no such config file; pass --config PATH or create it") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc}); fix the syntax") from exc
    return from_mapping(data, base_dir=path.resolve().parent, origin=str(path))


def from_mapping(data: dict[str, Any], base_dir: Path, origin: str = "config") -> Config:
    tables: dict[str, Any] = {}
    hints = get_type_hints(Config)
    for name, value in data.items():
        if name not in hints or name == "base_dir":
            known = ", ".join(f.name for f in fields(Config) if f.name != "base_dir")
            raise ConfigError(f"{origin}: unknown table [{name}]; the tables are {known}")
        if not isinstance(value, dict):
            raise ConfigError(f"{origin}: [{name}] must be a table")
        tables[name] = _build(hints[name], value, f"{origin} [{name}]")
    config = Config(base_dir=base_dir, **tables)
    _check_consistency(config, origin)
    return config


def _build(cls: type, values: dict[str, Any], where: str) -> Any:
    hints = get_type_hints(cls)
    kwargs: dict[str, Any] = {}
    for key, value in values.items():
        if key not in hints:
            known = ", ".join(hints)
            raise ConfigError(f"{where}: unknown key '{key}'; the keys are {known}")
        kwargs[key] = _coerce(hints[key], value, f"{where} {key}")
    return cls(**kwargs)


def _coerce(hint: Any, value: Any, where: str) -> Any:
    origin = get_origin(hint)
    if origin is Literal:
        allowed = get_args(hint)
        if value not in allowed:
            raise ConfigError(f"{where} = {value!r}: must be one of {', '.join(map(repr, allowed))}")
        return value
    if origin is tuple:
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{where}: must be a list of strings")
        return tuple(value)
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, hint) or (hint is int and isinstance(value, bool)):
        raise ConfigError(f"{where} = {value!r}: must be of type {hint.__name__}")
    return value


def _check_consistency(config: Config, origin: str) -> None:
    fp = config.fingerprint
    if fp.bands * fp.rows != fp.num_perm:
        raise ConfigError(
            f"{origin} [fingerprint]: bands × rows ({fp.bands} × {fp.rows}) "
            f"must equal num_perm ({fp.num_perm})"
        )
    if fp.shingle_size < 1 or fp.num_perm < 1 or fp.min_chars < 1:
        raise ConfigError(f"{origin} [fingerprint]: shingle_size, num_perm and min_chars must be positive")
    m = config.match
    if not 0.0 < m.match_at <= m.remove_at <= 1.0:
        raise ConfigError(f"{origin} [match]: need 0 < match_at ≤ remove_at ≤ 1")
    if m.max_candidates < 1:
        raise ConfigError(f"{origin} [match]: max_candidates must be at least 1")
    if config.store.recent_band_rows < 0:
        raise ConfigError(f"{origin} [store]: recent_band_rows must be 0 or more")
    if config.run.batch_size < 1 or config.run.workers < 0:
        raise ConfigError(f"{origin} [run]: batch_size must be ≥ 1 and workers ≥ 0")
    if config.decode.max_line_chars < 1 or config.split.max_passage_chars < 40:
        raise ConfigError(f"{origin}: max_line_chars must be ≥ 1 and max_passage_chars ≥ 40")
    if "{file}" not in config.ingest.layout:
        raise ConfigError(
            f"{origin} [ingest] layout must end in {{file}}, e.g. '{{authority}}/{{year}}/{{file}}'"
        )


def replace(config: Config, **tables: Any) -> Config:
    """A copy of ``config`` with whole tables swapped (used by tests and the CLI)."""
    return dataclasses.replace(config, **tables)
