"""config.toml → frozen dataclasses, one per table; unknown keys and wrong types are errors.

Each stage receives only its own table. Which file is read is decided in one place
(``discover``): ``--config PATH``, else the file ``ARCHIVER_CONFIG`` names, else
``./config.toml``, else the built-in defaults. Paths in ``[store]`` and ``[run]`` are resolved
against the directory of the config file (with the defaults, the current directory), so the
same file gives the same archive from any working directory, as cron runs it.
"""

from __future__ import annotations

import dataclasses
import json
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Literal, get_args, get_origin, get_type_hints

from archiver.errors import ConfigError


@dataclass(frozen=True)
class IngestConfig:
    layout: str = "{authority}/{year}/{file}"  # path pattern under the inbox
    follow_links: bool = False  # links inside the inbox are followed only when they stay inside it
    min_year: int = 1949  # a year in a path or a title outside these is not taken as the year
    max_year: int = 2100
    # A document whose file has left the inbox stays archived and is reported; "withdraw" also
    # takes it out of the current documents (audit, export) until the file is back.
    on_missing: Literal["keep", "withdraw"] = "keep"

    @property
    def years(self) -> tuple[int, int]:
        return self.min_year, self.max_year


@dataclass(frozen=True)
class DecodeConfig:
    max_line_chars: int = 100_000  # a longer line is rejected as oversize_line
    max_bytes: int = 16_000_000  # a larger file is rejected as oversize (no report is this large)
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
    # Band rows the upper level of the LSH index (its blocks, which every worker holds in
    # memory) may hold; a run merges its fullest bands into the main one until they fit.
    recent_band_rows: int = 1_000_000


@dataclass(frozen=True)
class RunConfig:
    inbox: tuple[str, ...] = ("samples",)
    workers: int = 0  # 0: one per core; 1: serial in this process
    batch_size: int = 64  # submissions per batch (memory bound and transaction size)
    executor: Literal["process", "dask"] = "process"
    dask_scheduler: str = ""  # address of a Dask scheduler when executor = "dask"


@dataclass(frozen=True)
class AuditConfig:
    # A matched passage found in at least this many authorities is formula (a mandated opening,
    # a prescribed heading), not substantive reuse.
    formula_authorities: int = 5
    # A matched passage of at most this many characters is a set phrase (the opening, a meeting
    # date line), formula however few authorities share it.
    formula_max_chars: int = 50
    # Files or folders of mandated formats: archive passages that match theirs are formula.
    templates: tuple[str, ...] = ()
    # A document of the same authority and year sharing at least this share of its characters
    # with an earlier arrival, and it with them, is a resubmission of it.
    resubmission_at: float = 0.9


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
    audit: AuditConfig = field(default_factory=AuditConfig)
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


CONFIG_ENV = "ARCHIVER_CONFIG"
ConfigSource = Literal["--config", "ARCHIVER_CONFIG", "./config.toml", "defaults"]


@dataclass(frozen=True)
class Found:
    """Which config file a command reads, and what named it."""

    path: Path | None  # None: the built-in defaults
    source: ConfigSource

    def describe(self) -> str:
        if self.path is None:
            return f"built-in defaults (no --config, no {CONFIG_ENV}, no config.toml in {Path.cwd()})"
        return f"{self.path.resolve()} (from {self.source})"


def discover(explicit: Path | None, environ: Mapping[str, str] = os.environ) -> Found:
    """The config file to read: ``explicit`` (``--config``), else ``$ARCHIVER_CONFIG``, else
    ``./config.toml`` when it exists, else none (the defaults). A file named explicitly, by
    the option or the variable, must exist: ``load`` stops when it does not."""
    if explicit is not None:
        return Found(explicit, "--config")
    if environ.get(CONFIG_ENV):
        return Found(Path(environ[CONFIG_ENV]), "ARCHIVER_CONFIG")
    if Path("config.toml").is_file():
        return Found(Path("config.toml"), "./config.toml")
    return Found(None, "defaults")


def keys_set(path: Path | None) -> dict[str, set[str]]:
    """Table → the keys ``path`` sets itself (the rest are defaults); empty for no file."""
    if path is None:
        return {}
    data = tomllib.loads(_read(path))
    return {name: set(table) for name, table in data.items() if isinstance(table, dict)}


def load(path: Path | None) -> Config:
    """Read ``path`` (None: built-in defaults) into a validated ``Config``."""
    if path is None:
        return Config()
    try:
        data = tomllib.loads(_read(path))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc}); fix the syntax") from exc
    return from_mapping(data, base_dir=path.resolve().parent, origin=str(path))


def _read(path: Path) -> str:
    """The text of the config file at ``path``; ConfigError when it is missing, not a file, or
    not UTF-8 (TOML files are UTF-8 by definition)."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError as exc:
        raise ConfigError(f"{path}: no such config file; pass --config PATH or create it") from exc
    except IsADirectoryError as exc:
        raise ConfigError(
            f"{path}: a folder, not a config file; pass --config PATH of a config.toml"
        ) from exc
    except OSError as exc:
        raise ConfigError(
            f"{path}: cannot read the config file ({exc.strerror}); pass a readable one"
        ) from exc
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ConfigError(
            f"{path}: line {line} is not UTF-8 (byte {raw[exc.start]:#04x}); save the file as UTF-8"
        ) from exc


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


# numpy's legacy generator (``fingerprint.permutations``, as datasketch draws them) takes a
# seed in [0, 2**32 - 1] only.
MAX_SEED = 2**32 - 1
# A signature is 4 × num_perm bytes in every passage row and every batch's (passages × num_perm)
# matrix. The estimate's standard error is about 1/√num_perm: ±9% at the default 128, ±3% at
# 1024, finer than any match_at is chosen; more permutations only cost space and time.
MAX_NUM_PERM = 1024
# The bulk shingle hashing loops once per character of a shingle, and longer shingles stop
# finding edited copies: with 5% of the characters changed, 0.95**32 ≈ 19% of 32-grams survive
# (Jaccard ≈ 0.1, below any useful match_at).
MAX_SHINGLE_SIZE = 32
# Far longer than any real paragraph; the check's pattern cannot count past 2**32 - 2 repeats.
MAX_UNPUNCTUATED_RUN = 1_000_000
# The per-submission stages are CPU-bound: past the core count a worker adds only its own
# interpreter's memory and start-up. 256 is above the cores of any one machine the archive
# runs on; an archive that outgrows one machine uses executor = "dask".
MAX_WORKERS = 256


def _check_consistency(config: Config, origin: str) -> None:
    _check_fingerprint(config.fingerprint, f"{origin} [fingerprint]")
    m = config.match
    if not 0.0 < m.match_at <= m.remove_at <= 1.0:
        raise ConfigError(f"{origin} [match]: need 0 < match_at ≤ remove_at ≤ 1")
    if m.max_candidates < 1:
        raise ConfigError(f"{origin} [match]: max_candidates must be at least 1")
    if config.store.recent_band_rows < 0:
        raise ConfigError(f"{origin} [store]: recent_band_rows must be 0 or more")
    _check_run(config.run, f"{origin} [run]")
    if config.decode.max_line_chars < 1 or config.split.max_passage_chars < 40:
        raise ConfigError(f"{origin}: max_line_chars must be ≥ 1 and max_passage_chars ≥ 40")
    if config.decode.max_bytes < 1:
        raise ConfigError(f"{origin} [decode]: max_bytes must be at least 1")
    if not 0.0 <= config.decode.min_confidence <= 1.0:
        raise ConfigError(f"{origin} [decode]: min_confidence must be between 0 and 1")
    if not 1 <= config.checks.max_unpunctuated_run <= MAX_UNPUNCTUATED_RUN:
        raise ConfigError(
            f"{origin} [checks]: max_unpunctuated_run must be between 1 and {MAX_UNPUNCTUATED_RUN:,}"
        )
    _check_audit(config, f"{origin} [audit]")
    if not 1000 <= config.ingest.min_year <= config.ingest.max_year <= 9999:
        raise ConfigError(f"{origin} [ingest]: need 1000 ≤ min_year ≤ max_year ≤ 9999 (years of four digits)")
    if "{file}" not in config.ingest.layout:
        raise ConfigError(
            f"{origin} [ingest] layout must end in {{file}}, e.g. '{{authority}}/{{year}}/{{file}}'"
        )


def _check_fingerprint(fp: FingerprintConfig, where: str) -> None:
    """ConfigError unless the MinHash parameters are in range and bands × rows = num_perm."""
    if min(fp.shingle_size, fp.num_perm, fp.bands, fp.rows, fp.min_chars) < 1:
        raise ConfigError(f"{where}: shingle_size, num_perm, bands, rows and min_chars must be positive")
    if fp.num_perm > MAX_NUM_PERM or fp.shingle_size > MAX_SHINGLE_SIZE:
        raise ConfigError(
            f"{where}: num_perm must be at most {MAX_NUM_PERM} and shingle_size at most {MAX_SHINGLE_SIZE}"
        )
    if fp.bands * fp.rows != fp.num_perm:
        raise ConfigError(
            f"{where}: bands × rows ({fp.bands} × {fp.rows}) must equal num_perm ({fp.num_perm})"
        )
    if not 0 <= fp.seed <= MAX_SEED:
        raise ConfigError(f"{where}: seed must be between 0 and {MAX_SEED} (2**32 - 1)")


def _check_audit(config: Config, where: str) -> None:
    """ConfigError unless the formula and resubmission settings are in range and every
    template path exists."""
    audit = config.audit
    if audit.formula_authorities < 2:
        raise ConfigError(f"{where}: formula_authorities must be at least 2 (one authority is no formula)")
    if audit.formula_max_chars < 0:
        raise ConfigError(f"{where}: formula_max_chars must be 0 (no set phrases) or more")
    if not 0.0 < audit.resubmission_at <= 1.0:
        raise ConfigError(f"{where}: resubmission_at must be above 0 and at most 1")
    for path in audit.templates:
        if not config.resolve(path).exists():
            raise ConfigError(
                f"{where}: template {config.resolve(path)} does not exist; "
                "give files or folders of mandated formats in templates"
            )


def _check_run(run: RunConfig, where: str) -> None:
    """ConfigError unless batch_size ≥ 1 and 0 ≤ workers ≤ MAX_WORKERS."""
    if run.batch_size < 1 or run.workers < 0:
        raise ConfigError(f"{where}: batch_size must be ≥ 1 and workers ≥ 0")
    if run.workers > MAX_WORKERS:
        raise ConfigError(
            f"{where}: workers = {run.workers} is more than {MAX_WORKERS}; "
            "use 0 for one per core, or executor = 'dask' beyond one machine"
        )


Origin = Literal["file", "default"]


def effective(config: Config, set_keys: Mapping[str, set[str]]) -> dict[str, dict[str, tuple[Any, Origin]]]:
    """Table → key → (value, whether the config file set it or it is the default)."""
    return {
        table.name: {
            key.name: (
                getattr(getattr(config, table.name), key.name),
                "file" if key.name in set_keys.get(table.name, set()) else "default",
            )
            for key in fields(getattr(config, table.name))
        }
        for table in fields(Config)
        if table.name != "base_dir"
    }


def toml_value(value: Any) -> str:
    """``value`` written as TOML (the types a config holds: str, bool, int, float, tuple of str)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # a TOML basic string: the same escapes
    if isinstance(value, tuple):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return repr(value)


def replace(config: Config, **tables: Any) -> Config:
    """A copy of ``config`` with whole tables swapped (used by tests and the CLI)."""
    return dataclasses.replace(config, **tables)
