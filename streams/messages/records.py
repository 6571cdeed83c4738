"""Typed messages carried on trend-stream's topics, with a schema version and strict parsing."""

import enum
import json
import math
import re
import uuid
from datetime import UTC, datetime
from functools import cache
from typing import (
    Any,
    ClassVar,
    Dict,
    List,
    Literal,
    Optional,
    Type,
    TypeVar,
    Union,
    get_args,
    get_origin,
)

import faust
from pydantic import (
    BaseModel,
    ConfigDict,
    StrictBool,
    StrictFloat,
    StrictInt,
    TypeAdapter,
    ValidationError,
    create_model,
)

from streams import catalog
from streams.catalog import JobService
from streams.exceptions import RecordValidationError
from streams.messages.items import item_key

__all__ = [
    "COLLECT_OPTIONS",
    "MAX_JSON_DEPTH",
    "MAX_NAME_LENGTH",
    "MAX_SAMPLE_SIZE",
    "PRIORITY_LANE_FROM",
    "REQUEST_ID_MAX_LENGTH",
    "REQUEST_ID_RULE",
    "SCHEMA_VERSION",
    "Alert",
    "AlertSeverity",
    "CollectRequest",
    "ControlCommand",
    "JobRequest",
    "Lane",
    "MaintenanceRequest",
    "PluginHealthReport",
    "ProcessRequest",
    "ProcessingReport",
    "RawItem",
    "RequestState",
    "RequestStatus",
    "StreamRecord",
    "TrendState",
    "TrendUpdate",
    "check_request_id",
    "collect_option_problems",
    "is_request_id",
    "json_problem",
    "request_id_problem",
    "utcnow",
]

SCHEMA_VERSION = 1
R = TypeVar("R", bound="StreamRecord")

REQUEST_ID_MAX_LENGTH = 200
"""The longest request id (a group's children add `.<plugin>` to their parent's)."""
REQUEST_ID_RULE = (
    f"1 to {REQUEST_ID_MAX_LENGTH} characters among letters, digits and . _ : @ + = -, "
    "not only dots"
)
"""The rule every request id follows, wherever a request enters (topic, HTTP, CLI, client):
safe in a URL path, a Redis key, a Kafka key, a log line and a PostgreSQL text column."""
_REQUEST_ID = re.compile(rf"^(?!\.+$)[A-Za-z0-9._:@+=-]{{1,{REQUEST_ID_MAX_LENGTH}}}$")
MAX_JSON_DEPTH = 32
"""Deepest nesting of objects and arrays a message may hold."""
_INT64 = (-(2**63), 2**63 - 1)
_SURROGATE = re.compile("[\ud800-\udfff]")
"""A lone surrogate: valid in JSON (`"\\ud800"`) but not in text (no UTF-8 encoding holds it)."""
MAX_SAMPLE_SIZE = 1000
"""The most items a dry run may return in its result (option `sample_size`)."""
MAX_NAME_LENGTH = 200
"""The longest plugin, job or requester name."""
COLLECT_OPTIONS = frozenset({"limit", "since", "sample_size", "plugins"})
"""Options of a collect request that the collector reads for every plugin (`plugins`: per-plugin
options of a group)."""
_DATETIME = TypeAdapter(datetime)
Lane = Literal["bulk", "priority"]
"""A collect request's topic: collect.requests (bulk) or collect.requests.priority."""
PRIORITY_LANE_FROM = 5
"""Collect requests of this priority or more take the priority lane."""


def is_request_id(value: object) -> bool:
    """True when `value` follows the request id rule (REQUEST_ID_RULE)."""
    return isinstance(value, str) and bool(_REQUEST_ID.match(value))


def _shown(value: object) -> str:
    text = repr(value)
    if len(text) <= 80:
        return text
    size = f"{len(value):,} characters" if isinstance(value, str) else type(value).__name__
    return f"{text[:60]}... ({size})"


def request_id_problem(value: object) -> str | None:
    """What is wrong with a request id (None: it follows REQUEST_ID_RULE)."""
    if is_request_id(value):
        return None
    return f"expected {REQUEST_ID_RULE}, got {_shown(value)}"


def check_request_id(value: object) -> str:
    """The id itself when it follows REQUEST_ID_RULE; RecordValidationError otherwise."""
    problem = request_id_problem(value)
    if problem is not None:
        raise RecordValidationError(f"invalid request id: {problem}")
    assert isinstance(value, str)
    return value


def utcnow() -> datetime:
    """The current time, timezone-aware in UTC."""
    return datetime.now(UTC)


class RequestState(enum.StrEnum):
    """Lifecycle of a request, as Celery named its task states."""

    PENDING = "PENDING"
    RECEIVED = "RECEIVED"
    STARTED = "STARTED"
    RETRY = "RETRY"
    SUCCESS = "SUCCESS"
    FAILURE = "FAILURE"
    REVOKED = "REVOKED"

    @property
    def is_final(self) -> bool:
        """True for the states after which nothing more happens to a request."""
        return self in (RequestState.SUCCESS, RequestState.FAILURE, RequestState.REVOKED)

    @classmethod
    def parse_many(cls, text: str) -> "list[RequestState]":
        """States separated by commas (`failure, REVOKED`), any case; ValueError naming the
        unknown ones."""
        parts = [part.strip().upper() for part in text.split(",") if part.strip()]
        unknown = [part for part in parts if part not in cls.__members__]
        if unknown:
            choices = ", ".join(state.value for state in cls)
            raise ValueError(f"unknown state {', '.join(unknown)} not one of {choices}")
        return [cls(part) for part in parts]


class TrendState(enum.StrEnum):
    """Where a topic stands in its life as a trend."""

    EMERGING = "emerging"
    TRENDING = "trending"
    PEAKING = "peaking"
    DECLINING = "declining"
    DORMANT = "dormant"


class StreamRecord(faust.Record, abstract=True, serializer="json", isodates=True, coerce=True):
    """Base of every message: strict parsing of JSON from any producer, Faust metadata optional."""

    _payload_model: ClassVar[Optional[Type[BaseModel]]] = None
    _nul_refused: ClassVar[bool] = False
    """True for requests: no text in them may hold a NUL character (PostgreSQL refuses it)."""

    @classmethod
    def parse(
        cls: Type[R],
        payload: Union[bytes, str, Dict[str, Any], None],
        defaults: Optional[Dict[str, Any]] = None,
    ) -> R:
        """Build a record from JSON bytes, text or a dict; RecordValidationError if invalid.

        Types are strict (`"yes"` is not a boolean, `"5"` not a number); the payload must pass
        `json_problem` (depth, 64-bit integers, finite numbers, no lone surrogate).
        """
        data = {**(defaults or {}), **_decode(cls.__name__, payload)}
        data.pop("__faust", None)
        problem = json_problem(data, cls._nul_refused)
        if problem is not None:
            raise RecordValidationError(f"invalid {cls.__name__}: {problem}")
        try:
            fields = _payload_model(cls).model_validate(data).model_dump()  # type: ignore[arg-type]
        except ValidationError as exc:
            raise RecordValidationError(_explain(cls.__name__, exc)) from None
        if fields["schema_version"] > SCHEMA_VERSION:
            raise RecordValidationError(
                f"invalid {cls.__name__}: schema_version {fields['schema_version']} is newer "
                f"than this worker understands ({SCHEMA_VERSION})"
            )
        record = cls(**fields)
        record.check()
        return record

    def check(self) -> None:
        """Semantic checks beyond field types; raise RecordValidationError on a problem."""


def _decode(kind: str, payload: Union[bytes, str, Dict[str, Any], None]) -> Dict[str, Any]:
    if isinstance(payload, dict):
        return dict(payload)
    if not payload:
        raise RecordValidationError(f"invalid {kind}: the payload is empty")
    try:
        data = json.loads(payload)
    except RecursionError:
        raise RecordValidationError(
            f"invalid {kind}: payload nests deeper than {MAX_JSON_DEPTH} levels"
        ) from None
    except (UnicodeDecodeError, ValueError) as exc:
        raise RecordValidationError(f"invalid {kind}: payload is not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise RecordValidationError(
            f"invalid {kind}: expected a JSON object, got {type(data).__name__}"
        )
    return data


def json_problem(data: Dict[str, Any], refuse_nul: bool = False) -> Optional[str]:
    """What makes decoded JSON unusable whatever its schema (None: nothing): the one rule of
    every door, topic and HTTP body alike.

    Objects and arrays nest at most MAX_JSON_DEPTH deep, integers fit in 64 bits, numbers are
    finite, and no string or key holds a lone surrogate (valid JSON, `"\\ud800"`, but not
    text: it cannot be encoded for Redis, Kafka, PostgreSQL or a JSON answer); `refuse_nul`:
    no NUL character either (PostgreSQL refuses it). Walked without recursion, so a deep
    payload cannot exhaust the stack.
    """
    stack: List[tuple[str, Any, int]] = [("", data, 0)]
    while stack:
        where, value, depth = stack.pop()
        label = (where if len(where) <= 60 else f"{where[:60]}...") or "payload"
        if isinstance(value, dict | list):
            if depth >= MAX_JSON_DEPTH:
                return f"{label}: nests deeper than {MAX_JSON_DEPTH} levels"
            pairs = value.items() if isinstance(value, dict) else enumerate(value)
            for key, child in pairs:
                if isinstance(key, str) and (problem := _text_problem(key, refuse_nul)):
                    return f"{label}: a key {problem}"
                stack.append((f"{where}.{key}" if where else str(key), child, depth + 1))
        elif isinstance(value, bool) or value is None:
            continue
        elif isinstance(value, int) and not _INT64[0] <= value <= _INT64[1]:
            return f"{label}: integer outside the 64-bit range"
        elif isinstance(value, float) and not math.isfinite(value):
            return f"{label}: numbers must be finite, got {value}"
        elif isinstance(value, str) and (problem := _text_problem(value, refuse_nul)):
            return f"{label}: text {problem}"
    return None


def _text_problem(text: str, refuse_nul: bool) -> Optional[str]:
    """What makes a string unusable as text (None: nothing); never quotes the string itself."""
    if surrogate := _SURROGATE.search(text):
        code = f"\\u{ord(surrogate.group()):04x}"
        return f"holds a lone surrogate ({code} at {surrogate.start()}), which is not valid text"
    if refuse_nul and "\x00" in text:
        return "must not hold a NUL character"
    return None


def _explain(kind: str, exc: ValidationError) -> str:
    problems = []
    for error in exc.errors():
        where = ".".join(str(part) for part in error["loc"]) or "payload"
        message = "unknown field" if error["type"] == "extra_forbidden" else error["msg"]
        problems.append(f"{where}: {message}")
    return f"invalid {kind}: " + "; ".join(problems)


_STRICT: Dict[Any, Any] = {bool: StrictBool, int: StrictInt, float: StrictFloat | StrictInt}


def _strict(kind: Any) -> Any:
    """The field type with strict booleans and numbers (also inside Optional)."""
    if kind in _STRICT:
        return _STRICT[kind]
    if get_origin(kind) is Union:
        args = get_args(kind)
        if len(args) == 2 and type(None) in args:
            inner = next(arg for arg in args if arg is not type(None))
            return Optional[_strict(inner)]
    return kind


@cache
def _payload_model(cls: Type[StreamRecord]) -> Type[BaseModel]:
    """A pydantic model mirroring the record's fields, forbidding unknown keys."""
    defaults = cls._options.defaults
    fields: Dict[str, Any] = {
        name: (_strict(kind), defaults.get(name, ...)) for name, kind in cls._options.fields.items()
    }
    config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    return create_model(f"{cls.__name__}Payload", __config__=config, **fields)


def _request_problems(request: Any) -> List[str]:
    """The problems of the fields every request has: its id, who asked and its options (also
    for a request built in Python, which `parse` did not see)."""
    problems = []
    if problem := request_id_problem(request.request_id):
        problems.append(f"request_id: {problem}")
    if isinstance(request.options, dict) and (
        problem := json_problem({"options": request.options}, refuse_nul=True)
    ):
        problems.append(problem)
    requested_by = request.requested_by
    if len(requested_by) > MAX_NAME_LENGTH or not requested_by.isprintable():
        problems.append(
            f"requested_by: at most {MAX_NAME_LENGTH} printable characters, got "
            f"{_shown(requested_by)}"
        )
    return problems


def collect_option_problems(options: Any) -> List[str]:
    """What is wrong with the options every plugin reads (`limit`, `since`, `sample_size`) and
    with `plugins` (a group's per-plugin options: an object of objects); empty when nothing."""
    if not isinstance(options, dict):
        return [f"options: expected an object, got {type(options).__name__}"]
    problems = []
    limit = options.get("limit")
    if limit is not None and (not _is_whole(limit) or limit < 0):
        problems.append(f"options.limit: must be a whole number >= 0, got {_shown(limit)}")
    size = options.get("sample_size")
    if size is not None and (not _is_whole(size) or not 0 <= size <= MAX_SAMPLE_SIZE):
        problems.append(
            f"options.sample_size: must be a whole number from 0 to {MAX_SAMPLE_SIZE}, "
            f"got {_shown(size)}"
        )
    since = options.get("since")
    if since is not None and _aware_time(since) is None:
        problems.append(
            f"options.since: must be an ISO 8601 time with a timezone, got {_shown(since)}"
        )
    plugins = options.get("plugins")
    if plugins is not None and not (
        isinstance(plugins, dict)
        and all(own is None or isinstance(own, dict) for own in plugins.values())
    ):
        problems.append("options.plugins: must map plugin names to objects of options")
    return problems


def _is_whole(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _aware_time(value: object) -> Optional[datetime]:
    if not isinstance(value, str):
        return None
    try:
        moment = _DATETIME.validate_python(value)
    except ValidationError:
        return None
    return moment if moment.tzinfo is not None else None


def _fill_request_defaults(request: Any) -> None:
    """A new request id, empty options and the current time where a request left them out."""
    request.request_id = request.request_id or uuid.uuid4().hex
    request.options = request.options if request.options is not None else {}
    request.created_at = request.created_at or utcnow()


class CollectRequest(StreamRecord, namespace="trend_stream.CollectRequest"):
    """A trigger: collect from one plugin or a group (`all`, `high_frequency`)."""

    plugin: str
    request_id: str = ""
    options: Dict[str, Any] = None  # type: ignore[assignment]
    dry_run: bool = False
    then_process: bool = False
    priority: int = 0
    deadline: Optional[datetime] = None
    requested_by: str = "anonymous"
    created_at: Optional[datetime] = None
    parent_id: Optional[str] = None
    schema_version: int = SCHEMA_VERSION

    _nul_refused: ClassVar[bool] = True

    def __post_init__(self) -> None:
        _fill_request_defaults(self)

    @property
    def lane(self) -> Lane:
        """`priority` from PRIORITY_LANE_FROM on, else `bulk`: the one rule of every sender."""
        return "priority" if self.priority >= PRIORITY_LANE_FROM else "bulk"

    def check(self) -> None:
        """Reject a bad request id, an empty plugin name, a priority outside 0..9, a naive
        deadline and malformed options every plugin reads (`limit`, `since`, `sample_size`,
        `plugins`); the plugin's own options are the collector's to check."""
        problems = _request_problems(self)
        if not self.plugin:
            problems.append("plugin: must not be empty")
        elif len(self.plugin) > MAX_NAME_LENGTH or not self.plugin.isprintable():
            problems.append(f"plugin: not a plugin name: {_shown(self.plugin)}")
        if self.parent_id is not None and (problem := request_id_problem(self.parent_id)):
            problems.append(f"parent_id: {problem}")
        problems.extend(collect_option_problems(self.options))
        if not 0 <= self.priority <= 9:
            problems.append(f"priority: must be between 0 and 9, got {self.priority}")
        if self.deadline is not None and self.deadline.tzinfo is None:
            problems.append("deadline: must carry a timezone (e.g. 2026-01-01T00:00:00Z)")
        if problems:
            raise RecordValidationError("invalid CollectRequest: " + "; ".join(problems))


class RequestStatus(StreamRecord, namespace="trend_stream.RequestStatus"):
    """Where a request stands; the last one published for a request_id is its result."""

    request_id: str
    state: RequestState
    plugin: str = ""
    result: Optional[Dict[str, Any]] = None
    error: Optional[str] = None
    error_type: Optional[str] = None
    timings: Dict[str, float] = None  # type: ignore[assignment]
    worker: str = ""
    parent_id: Optional[str] = None
    updated_at: Optional[datetime] = None
    retries: int = 0
    """Failed attempts behind this status (RETRY: the one just failed)."""
    eta: Optional[datetime] = None
    """RETRY: when the next attempt is due."""
    traceback: Optional[str] = None
    """FAILURE of an unexpected error: where it was raised."""
    schema_version: int = SCHEMA_VERSION

    def __post_init__(self) -> None:
        self.state = RequestState(self.state)  # Faust's own decoding leaves enums as str
        self.timings = self.timings if self.timings is not None else {}
        self.updated_at = self.updated_at or utcnow()


class RawItem(StreamRecord, namespace="trend_stream.RawItem"):
    """One item as a source published it, before any processing."""

    source: str
    source_id: str
    title: str
    url: Optional[str] = None
    text: str = ""
    author: Optional[str] = None
    published_at: Optional[datetime] = None
    score: Optional[int] = None
    comments: Optional[int] = None
    engagement: Dict[str, float] = None  # type: ignore[assignment]
    collected_at: Optional[datetime] = None
    request_id: Optional[str] = None
    schema_version: int = SCHEMA_VERSION

    def __post_init__(self) -> None:
        self.engagement = self.engagement if self.engagement is not None else {}
        self.collected_at = self.collected_at or utcnow()

    @property
    def key(self) -> str:
        """The message key, `source:source_id` (streams.messages.items.item_key)."""
        return item_key(self.source, self.source_id)


class TrendUpdate(StreamRecord, namespace="trend_stream.TrendUpdate"):
    """A topic's trend changed state or rank."""

    topic_id: str
    label: str
    state: TrendState
    score: float
    previous_state: Optional[TrendState] = None
    rank: Optional[int] = None
    velocity: float = 0.0
    acceleration: float = 0.0
    z_score: float = 0.0
    item_count: int = 0
    keywords: List[str] = None  # type: ignore[assignment]
    updated_at: Optional[datetime] = None
    schema_version: int = SCHEMA_VERSION

    def __post_init__(self) -> None:
        self.state = TrendState(self.state)  # Faust's own decoding leaves enums as str
        if self.previous_state is not None:
            self.previous_state = TrendState(self.previous_state)
        self.keywords = self.keywords if self.keywords is not None else []
        self.updated_at = self.updated_at or utcnow()


class ControlCommand(StreamRecord, namespace="trend_stream.ControlCommand"):
    """An order to the workers, e.g. `revoke` a request (skip it if queued, stop it if running)."""

    command: str
    request_id: str
    issued_by: str = "anonymous"
    issued_at: Optional[datetime] = None
    schema_version: int = SCHEMA_VERSION

    _nul_refused: ClassVar[bool] = True

    def __post_init__(self) -> None:
        self.issued_at = self.issued_at or utcnow()

    def check(self) -> None:
        """Only known commands about a valid request id are accepted."""
        problems = []
        if self.command not in CONTROL_COMMANDS:
            known = ", ".join(sorted(CONTROL_COMMANDS))
            problems.append(f"command: {_shown(self.command)} is not one of {known}")
        if problem := request_id_problem(self.request_id):
            problems.append(f"request_id: {problem}")
        if problems:
            raise RecordValidationError("invalid ControlCommand: " + "; ".join(problems))


CONTROL_COMMANDS = frozenset({"revoke"})


class ProcessingReport(StreamRecord, namespace="trend_stream.ProcessingReport"):
    """The processor handled a request's items (one report per request, batch and stage).

    A redelivered item is reported again: `keys` name the items, so a reader counts each
    item once however often it is reported.
    """

    request_id: str
    items_handled: int
    items_new: int
    stage: str = "stored"
    keys: List[str] = None  # type: ignore[assignment]
    """The keys of the items handled (`source:source_id`)."""
    new_keys: List[str] = None  # type: ignore[assignment]
    """The keys of the items new for this request: first stored by it (on every redelivery)."""
    reported_at: Optional[datetime] = None
    schema_version: int = SCHEMA_VERSION

    def __post_init__(self) -> None:
        self.reported_at = self.reported_at or utcnow()
        self.keys = self.keys if self.keys is not None else []
        self.new_keys = self.new_keys if self.new_keys is not None else []


class EnrichedItem(StreamRecord, namespace="trend_stream.EnrichedItem"):
    """An item after the processor's enrich stage, ready for clustering (items.enriched).

    Everything here depends on the item alone; what needs the whole stream (entity weights,
    topics) is the cluster stage's. An exact duplicate carries `duplicate_of` and no vector.
    """

    key: str
    """`source:source_id` of the item."""
    at: datetime
    """Publication time (collection time when unknown): the pipeline's event time."""
    title: str
    language: Optional[str] = None
    score: Optional[int] = None
    comments: Optional[int] = None
    vector: Optional[str] = None
    """The item's unit-length embedding, float32 little-endian, base64."""
    entities: List[str] = None  # type: ignore[assignment]
    """Entity keys found in the item (case-folded names), in order of appearance."""
    duplicate_of: Optional[str] = None
    """The key of the item this one repeats exactly (same normalised content)."""
    request_id: Optional[str] = None
    new: bool = True
    """Whether the item is new for its request: its row was first stored by that request
    (true on every redelivery too; false when another request stored it first)."""
    names: List[str] = None  # type: ignore[assignment]
    """The entities written as proper names (a subset of `entities`); empty in messages of
    earlier versions, whose items then never contradict a topic by their names."""
    schema_version: int = SCHEMA_VERSION

    def __post_init__(self) -> None:
        self.entities = self.entities if self.entities is not None else []
        self.names = self.names if self.names is not None else []


class JobRequest(StreamRecord, abstract=True):
    """A job on request, named by `job`; each subclass is the request of one service, whose
    jobs (streams.catalog) it accepts."""

    service: ClassVar[JobService]
    jobs: ClassVar[frozenset[str]] = frozenset()

    job: str
    request_id: str = ""
    options: Dict[str, Any] = None  # type: ignore[assignment]
    requested_by: str = "anonymous"
    created_at: Optional[datetime] = None
    schema_version: int = SCHEMA_VERSION

    _nul_refused: ClassVar[bool] = True

    def __post_init__(self) -> None:
        _fill_request_defaults(self)

    def check(self) -> None:
        """Only known jobs, with a valid request id, are accepted (their options are checked by
        the worker that runs them: see streams.requests.jobs)."""
        problems = _request_problems(self)
        if self.job not in self.jobs:
            known = ", ".join(sorted(self.jobs))
            problems.append(f"job: {_shown(self.job)} is not one of {known}")
        if problems:
            raise RecordValidationError(f"invalid {type(self).__name__}: " + "; ".join(problems))


class ProcessRequest(JobRequest, namespace="trend_stream.ProcessRequest"):
    """A processing job on request (the processor's jobs of the catalog)."""

    service: ClassVar[JobService] = "processor"
    jobs: ClassVar[frozenset[str]] = catalog.job_names("processor")


class MaintenanceRequest(JobRequest, namespace="trend_stream.MaintenanceRequest"):
    """A maintenance job on request (the maintenance worker's jobs of the catalog)."""

    service: ClassVar[JobService] = "maintenance"
    jobs: ClassVar[frozenset[str]] = catalog.job_names("maintenance")


class AlertSeverity(enum.StrEnum):
    """How urgent an alert is."""

    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


class Alert(StreamRecord, namespace="trend_stream.alert"):
    """Something an operator should know: a health change, a lagging group, a failing plugin."""

    source: str
    subject: str
    severity: AlertSeverity
    message: str
    state: str = ""
    previous_state: Optional[str] = None
    details: Dict[str, Any] = None  # type: ignore[assignment]
    raised_at: Optional[datetime] = None
    schema_version: int = SCHEMA_VERSION

    def __post_init__(self) -> None:
        self.severity = AlertSeverity(self.severity)  # Faust's own decoding leaves enums as str
        self.details = self.details if self.details is not None else {}
        self.raised_at = self.raised_at or utcnow()

    @property
    def key(self) -> str:
        """The message key: alerts about one subject stay in order."""
        return f"{self.source}:{self.subject}"


class PluginHealthReport(StreamRecord, namespace="trend_stream.PluginHealthReport"):
    """The maintenance service's verdict on one plugin over its runs of the last `window_hours`,
    keyed by plugin on plugin.health (compacted: the latest verdict per plugin).

    `disabled`: the collector's groups skip the plugin (it stays disabled until a verdict says
    otherwise); `reason` says why a plugin is flagged.
    """

    plugin: str
    window_hours: int
    runs: int = 0
    successes: int = 0
    success_rate: Optional[float] = None
    mean_duration_ms: Optional[float] = None
    last_success_at: Optional[datetime] = None
    flagged: bool = False
    disabled: bool = False
    reason: Optional[str] = None
    checked_at: Optional[datetime] = None
    schema_version: int = SCHEMA_VERSION

    def __post_init__(self) -> None:
        self.checked_at = self.checked_at or utcnow()
