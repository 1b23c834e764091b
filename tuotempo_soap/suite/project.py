"""A SoapUI project file read into plain values, or refused.

``load_project`` reads the soapui-project XML (namespace
``http://eviware.com/soapui/config``) that SoapUI and ReadyAPI save, keeps what
the runner executes, and refuses, by name and place, every enabled step,
assertion, script or property expansion it would otherwise have to skip or
guess at. Disabled suites, cases, steps and assertions are kept as disabled:
SoapUI does not run them either, and the reports list them as such.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .contract import Contract
from .errors import ProjectError, UnsupportedError
from .xmldoc import SOAPUI, XSI, XmlError, parse_xml

# Assertion type ids as SoapUI writes them. Two are famously crossed over in
# SoapUI itself: "SOAP Fault Assertion" is the *Not* SOAP Fault check.
SOAP_RESPONSE = "SOAP Response"
SCHEMA_COMPLIANCE = "Schema Compliance"
NOT_SOAP_FAULT = "SOAP Fault Assertion"
SOAP_FAULT = "Not SOAP Fault Assertion"
XPATH_MATCH = "XPath Match"
CONTAINS = "Simple Contains"
NOT_CONTAINS = "Simple NotContains"
VALID_STATUS = "Valid HTTP Status Codes"
INVALID_STATUS = "Invalid HTTP Status Codes"
RESPONSE_SLA = "Response SLA Assertion"

ASSERTION_LABELS = {
    SOAP_RESPONSE: "SOAP Response",
    SCHEMA_COMPLIANCE: "Schema Compliance",
    NOT_SOAP_FAULT: "Not SOAP Fault",
    SOAP_FAULT: "SOAP Fault",
    XPATH_MATCH: "XPath Match",
    CONTAINS: "Contains",
    NOT_CONTAINS: "Not Contains",
    VALID_STATUS: "Valid HTTP Status Codes",
    INVALID_STATUS: "Invalid HTTP Status Codes",
    RESPONSE_SLA: "Response SLA",
}
SOAP_ONLY = frozenset({SOAP_RESPONSE, SCHEMA_COMPLIANCE, NOT_SOAP_FAULT, SOAP_FAULT})
# How SoapUI names the kinds we refuse, so a refusal reads as the SoapUI UI does.
_OTHER_ASSERTIONS = {
    "GroovyScriptAssertion": "Script Assertion",
    "XQuery Match": "XQuery Match",
    "JsonPath Match": "JsonPath Match",
    "JsonPath Count": "JsonPath Count",
    "JsonPath Existence Match": "JsonPath Existence Match",
    "JsonPath RegEx Match": "JsonPath RegEx Match",
    "WSS Status Assertion": "WS-Security Status",
    "WS-A Response Assertion": "WS-Addressing Response",
    "WS-A Request Assertion": "WS-Addressing Request",
    "SOAP Request": "SOAP Request",
    "JMS Status": "JMS Status",
    "JMS Timeout": "JMS Timeout",
    "JDBC Status": "JDBC Status",
    "JDBC Timeout": "JDBC Timeout",
    "HTTP Download all resources": "HTTP Download All Resources",
    "Sensitive Information Exposure": "Sensitive Information Exposure",
    "Cross Site Scripting Detection": "Cross Site Scripting Detection",
}
_STEP_LABELS = {
    "request": "SOAP Request",
    "httprequest": "HTTP Request",
    "transfer": "Property Transfer",
    "properties": "Properties",
    "groovy": "Groovy Script",
    "restrequest": "REST Request",
    "jdbc": "JDBC Request",
    "calltestcase": "Run TestCase",
    "delay": "Delay",
    "goto": "Conditional Goto",
    "mockresponse": "Mock Response",
    "manualTestStep": "Manual TestStep",
    "amfrequest": "AMF Request",
    "datasource": "DataSource",
    "datasourceloop": "DataSource Loop",
    "datasink": "DataSink",
    "assertionteststep": "Assertion",
}
_SUPPORTED_STEPS = frozenset({"request", "httprequest", "transfer", "properties"})
_OPEN_AUTH = frozenset({"", "No Authorization", "Global HTTP Settings"})
# ``${...}`` with no ``${`` inside: expanded innermost first, as SoapUI does.
EXPANSION = re.compile(r"\$\{([^${}]*)\}")


@dataclass(frozen=True)
class Assertion:
    kind: str  # the SoapUI type id, e.g. "XPath Match"
    name: str
    config: dict[str, str]
    disabled: bool = False

    @property
    def label(self) -> str:
        return ASSERTION_LABELS.get(self.kind, self.kind)


@dataclass(frozen=True)
class SoapRequestStep:
    name: str
    interface: str
    operation: str
    endpoint: str
    body: str
    headers: tuple[tuple[str, str], ...]
    encoding: str
    timeout: float | None
    assertions: tuple[Assertion, ...]
    disabled: bool = False
    kind: str = "SOAP Request"


@dataclass(frozen=True)
class HttpRequestStep:
    name: str
    method: str
    endpoint: str
    media_type: str
    body: str
    headers: tuple[tuple[str, str], ...]
    encoding: str
    timeout: float | None
    assertions: tuple[Assertion, ...]
    disabled: bool = False
    kind: str = "HTTP Request"


@dataclass(frozen=True)
class Transfer:
    name: str
    source_step: str
    source_property: str
    source_path: str
    target_step: str
    target_property: str
    fail_on_error: bool = True
    set_null_on_missing_source: bool = False
    ignore_empty: bool = False
    entitize: bool = False
    disabled: bool = False


@dataclass(frozen=True)
class TransferStep:
    name: str
    transfers: tuple[Transfer, ...]
    disabled: bool = False
    kind: str = "Property Transfer"


@dataclass(frozen=True)
class PropertiesStep:
    name: str
    properties: dict[str, str]
    disabled: bool = False
    kind: str = "Properties"


Step = SoapRequestStep | HttpRequestStep | TransferStep | PropertiesStep
RequestStep = SoapRequestStep | HttpRequestStep


@dataclass(frozen=True)
class TestCase:
    name: str
    steps: tuple[Step, ...]
    properties: dict[str, str]
    fail_on_error: bool = True
    disabled: bool = False
    description: str = ""


@dataclass(frozen=True)
class TestSuite:
    name: str
    cases: tuple[TestCase, ...]
    properties: dict[str, str]
    disabled: bool = False
    description: str = ""


@dataclass(frozen=True)
class Project:
    name: str
    properties: dict[str, str]
    interfaces: dict[str, Contract]
    suites: tuple[TestSuite, ...]
    path: Path | None = None
    description: str = ""


# --- reading ----------------------------------------------------------------


def _con(name: str) -> str:
    return f"{{{SOAPUI}}}{name}"


def _children(element: Any, name: str) -> Iterator[Any]:
    return element.iterfind(_con(name))


def _text(element: Any, name: str, default: str = "") -> str:
    found = element.find(_con(name))
    if found is None or found.text is None:
        return default
    return str(found.text)


def _flag(value: str | None, default: bool) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() == "true"


def _properties(element: Any) -> dict[str, str]:
    holder = element.find(_con("properties"))
    found: dict[str, str] = {}
    if holder is None:
        return found
    for prop in _children(holder, "property"):
        found[_text(prop, "name")] = _text(prop, "value")
    return found


def _timeout(value: str | None) -> float | None:
    if value is None or not value.strip():
        return None
    try:
        milliseconds = int(value.strip())
    except ValueError:
        raise ProjectError(
            f"a request timeout of {value!r} is not a number of milliseconds"
        ) from None
    return milliseconds / 1000 if milliseconds > 0 else None


class _Reader:
    """Reads a project and collects every refusal before giving up, so one run
    names all of them."""

    def __init__(self) -> None:
        self.problems: list[str] = []
        self.interfaces: dict[str, Contract] = {}

    def refuse(self, problem: str) -> None:
        self.problems.append(problem)

    # --- scripts and expansions -------------------------------------------

    def scripts(self, element: Any, where: str) -> None:
        for child in element:
            if not isinstance(child.tag, str) or not child.tag.startswith(f"{{{SOAPUI}}}"):
                continue
            local = child.tag.rpartition("}")[2]
            if local.endswith("Script") and (child.text or "").strip():
                self.refuse(f"{local} (Groovy) of {where}")

    def expansions(self, text: str, where: str, step_names: set[str]) -> None:
        for match in EXPANSION.finditer(text):
            reference = match.group(1)
            if reference.startswith("="):
                self.refuse(f"inline script expansion ${{={reference[1:40]}...}} in {where}")
                continue
            if reference.startswith("#"):
                scope, _, name = reference[1:].partition("#")
                if scope not in ("Project", "TestSuite", "TestCase", "Env"):
                    self.refuse(f"property expansion ${{{reference}}} ({scope} scope) in {where}")
                elif "#" in name:
                    self.refuse(f"XPath in property expansion ${{{reference}}} in {where}")
                continue
            step, sep, rest = reference.partition("#")
            if not sep:
                self.refuse(
                    f"context property expansion ${{{reference}}} in {where} (only scripts set "
                    "those; use ${#TestCase#NAME} or ${#Project#NAME})"
                )
            elif "#" in rest:
                self.refuse(f"XPath in property expansion ${{{reference}}} in {where}")
            elif step not in step_names:
                self.refuse(f"${{{reference}}} in {where} names no step of its test case")

    # --- interfaces ---------------------------------------------------------

    def interface(self, element: Any) -> None:
        kind = element.get(f"{{{XSI}}}type", "")
        name = element.get("name", "")
        if kind != "con:WsdlInterface":
            return  # a REST service: only REST steps use it, and those are refused
        if element.get("soapVersion", "1_1") != "1_1":
            self.refuse(f"interface {name!r}: SOAP {element.get('soapVersion')} (only SOAP 1.1)")
            return
        cache = element.find(_con("definitionCache"))
        parts = {}
        for part in _children(cache, "part") if cache is not None else ():
            parts[_text(part, "url")] = _text(part, "content").encode("utf-8")
        root = cache.get("rootPart") if cache is not None else None
        if not root or root not in parts:
            self.refuse(
                f"interface {name!r} has no cached WSDL (save the project with its "
                "definition cached; nothing is fetched at run time)"
            )
            return
        binding = element.get("bindingName") or None
        self.interfaces[name] = Contract(root, parts, binding, name)

    # --- assertions -------------------------------------------------------

    def assertions(
        self, holder: Any, where: str, *, soap: bool, step_names: set[str], active: bool = True
    ) -> tuple[Assertion, ...]:
        found = []
        for node in _children(holder, "assertion"):
            kind = node.get("type", "")
            name = node.get("name") or ASSERTION_LABELS.get(kind, kind)
            disabled = _flag(node.get("disabled"), False)
            config_node = node.find(_con("configuration"))
            config = {}
            if config_node is not None:
                for child in config_node:
                    if isinstance(child.tag, str):
                        config[child.tag.rpartition("}")[2]] = child.text or ""
            assertion = Assertion(kind, name, config, disabled)
            found.append(assertion)
            if disabled or not active:
                continue
            place = f'assertion "{name}" of {where}'
            if kind not in ASSERTION_LABELS:
                label = _OTHER_ASSERTIONS.get(kind, f"type {kind!r}")
                self.refuse(f"{place}: {label} assertions are not supported")
                continue
            if kind in SOAP_ONLY and not soap:
                self.refuse(f"{place}: {assertion.label} applies to SOAP request steps only")
            if kind == SCHEMA_COMPLIANCE and config.get("definition", "").strip():
                self.refuse(f"{place}: Schema Compliance against another definition URL")
            if kind == XPATH_MATCH:
                if not config.get("path", "").strip():
                    self.refuse(f"{place}: XPath Match without a path")
                if "content" not in config:
                    self.refuse(f"{place}: XPath Match without an expected value")
                for key in ("path", "content"):
                    self.expansions(config.get(key, ""), place, step_names)
            if kind in (CONTAINS, NOT_CONTAINS):
                self.expansions(config.get("token", ""), place, step_names)
            if kind in (VALID_STATUS, INVALID_STATUS):
                codes = [code.strip() for code in config.get("codes", "").split(",")]
                if not all(code.isdigit() for code in codes if code) or not any(codes):
                    self.refuse(f"{place}: status codes {config.get('codes')!r} are not numbers")
            if kind == RESPONSE_SLA and not config.get("SLA", "").strip().isdigit():
                self.refuse(f"{place}: Response SLA {config.get('SLA')!r} is not milliseconds")
        return tuple(found)

    # --- steps --------------------------------------------------------------

    def headers(self, request: Any, where: str) -> tuple[tuple[str, str], ...]:
        settings = request.find(_con("settings"))
        for setting in _children(settings, "setting") if settings is not None else ():
            if not (setting.get("id") or "").endswith("@request-headers"):
                continue
            fragment = (setting.text or "").strip()
            if not fragment:
                return ()
            try:
                root = parse_xml(fragment, f"the request headers of {where}")
            except XmlError as exc:
                raise ProjectError(str(exc)) from None
            return tuple(
                (entry.get("key", ""), entry.get("value", "")) for entry in root.iter(_con("entry"))
            )
        return ()

    def open_request(self, request: Any, where: str) -> None:
        encoding = _text(request, "encoding", "UTF-8") or "UTF-8"
        try:
            codecs.lookup(encoding)
        except LookupError:
            self.refuse(f"{where}: encoding {encoding!r}")
        credentials = request.find(_con("credentials"))
        auth = _text(credentials, "authType") if credentials is not None else ""
        if auth not in _OPEN_AUTH:
            self.refuse(f"{where}: {auth} authorization")
        for attribute in ("outgoingWss", "incomingWss"):
            if (request.get(attribute) or "").strip():
                self.refuse(f"{where}: WS-Security ({attribute})")
        if _flag(request.get("useWsAddressing"), False):
            self.refuse(f"{where}: WS-Addressing")
        if _flag(request.get("useWsReliableMessaging"), False):
            self.refuse(f"{where}: WS-ReliableMessaging")
        if request.find(_con("attachment")) is not None:
            self.refuse(f"{where}: attachments")

    def step(self, node: Any, where_case: str, step_names: set[str]) -> Step | None:
        kind = node.get("type", "")
        name = node.get("name", "")
        disabled = _flag(node.get("disabled"), False)
        where = f'{_STEP_LABELS.get(kind, kind)} step "{name}" in {where_case}'
        if kind not in _SUPPORTED_STEPS:
            if not disabled:
                label = _STEP_LABELS.get(kind, f"type {kind!r}")
                self.refuse(f'test step "{name}" in {where_case}: {label} steps are not supported')
            return None
        config = node.find(_con("config"))
        if config is None:
            if disabled:
                return None
            raise ProjectError(f"{where} has no configuration")
        if kind == "request":
            return self.soap_step(config, name, disabled, where, step_names)
        if kind == "httprequest":
            return self.http_step(config, name, disabled, where, step_names)
        if kind == "transfer":
            return self.transfer_step(config, name, disabled, where, step_names)
        return PropertiesStep(name, _properties(config), disabled)

    def soap_step(
        self, config: Any, name: str, disabled: bool, where: str, step_names: set[str]
    ) -> SoapRequestStep:
        interface = _text(config, "interface")
        operation = _text(config, "operation")
        request = config.find(_con("request"))
        if request is None:
            raise ProjectError(f"{where} has no request")
        step = SoapRequestStep(
            name=name,
            interface=interface,
            operation=operation,
            endpoint=_text(request, "endpoint"),
            body=_text(request, "request"),
            headers=self.headers(request, where),
            encoding=_text(request, "encoding", "UTF-8") or "UTF-8",
            timeout=_timeout(request.get("timeout")),
            assertions=self.assertions(
                request, where, soap=True, step_names=step_names, active=not disabled
            ),
            disabled=disabled,
        )
        if disabled:
            return step
        self.open_request(request, where)
        contract = self.interfaces.get(interface)
        if contract is None:
            self.refuse(f"{where}: interface {interface!r} is not a cached SOAP 1.1 WSDL interface")
        elif operation not in contract.operations:
            raise ProjectError(f"{where}: interface {interface!r} has no operation {operation!r}")
        for text in (step.endpoint, step.body, *(value for _, value in step.headers)):
            self.expansions(text, where, step_names)
        return step

    def http_step(
        self, config: Any, name: str, disabled: bool, where: str, step_names: set[str]
    ) -> HttpRequestStep:
        step = HttpRequestStep(
            name=name,
            method=(config.get("method") or "GET").upper(),
            endpoint=_text(config, "endpoint"),
            media_type=config.get("mediaType") or "application/xml",
            body=_text(config, "request"),
            headers=self.headers(config, where),
            encoding=_text(config, "encoding", "UTF-8") or "UTF-8",
            timeout=_timeout(config.get("timeout")),
            assertions=self.assertions(
                config, where, soap=False, step_names=step_names, active=not disabled
            ),
            disabled=disabled,
        )
        if disabled:
            return step
        self.open_request(config, where)
        parameters = config.find(_con("parameters"))
        if parameters is not None and len(parameters):
            self.refuse(f"{where}: request parameters (write them into the endpoint)")
        for text in (step.endpoint, step.body, *(value for _, value in step.headers)):
            self.expansions(text, where, step_names)
        return step

    def transfer_step(
        self, config: Any, name: str, disabled: bool, where: str, step_names: set[str]
    ) -> TransferStep:
        transfers = []
        for node in _children(config, "transfers"):
            transfer = Transfer(
                name=_text(node, "name"),
                source_step=_text(node, "sourceStep").strip(),
                source_property=_text(node, "sourceType"),
                source_path=_text(node, "sourcePath"),
                target_step=_text(node, "targetStep").strip(),
                target_property=_text(node, "targetType"),
                fail_on_error=_flag(node.get("failOnError"), True),
                set_null_on_missing_source=_flag(node.get("setNullOnMissingSource"), True),
                ignore_empty=_flag(node.get("ignoreEmpty"), False),
                entitize=_flag(node.get("entitize"), False),
                disabled=_flag(node.get("disabled"), False),
            )
            transfers.append(transfer)
            if disabled or transfer.disabled:
                continue
            place = f'transfer "{transfer.name}" of {where}'
            if _text(node, "targetPath").strip():
                self.refuse(f"{place}: writing into an XPath of the target property")
            if _flag(node.get("useXQuery"), False):
                self.refuse(f"{place}: XQuery source")
            if _flag(node.get("transferChildNodes"), False):
                self.refuse(f"{place}: transferring child nodes")
            for language in ("sourcePathLanguage", "targetPathLanguage"):
                value = _text(node, language).strip()
                if value and value.upper() != "XPATH":
                    self.refuse(f"{place}: {value} paths")
            if transfer.source_path.strip().startswith("$"):
                self.refuse(f"{place}: JSONPath source")
            self.expansions(transfer.source_path, place, step_names)
            for step_name in (transfer.source_step, transfer.target_step):
                if not step_name.startswith("#") and step_name not in step_names:
                    raise ProjectError(f"{place} names no step {step_name!r} of its test case")
        return TransferStep(name, tuple(transfers), disabled)

    # --- containers ---------------------------------------------------------

    def case(self, node: Any, suite: str) -> TestCase:
        name = node.get("name", "")
        where = f"{suite} / {name}"
        disabled = _flag(node.get("disabled"), False)
        nodes = list(_children(node, "testStep"))
        names = {step.get("name", "") for step in nodes}
        if not disabled:
            self.scripts(node, f'test case "{where}"')
        steps = []
        for step_node in nodes:
            if disabled:
                # Nothing of a disabled case runs, so nothing in it is refused.
                step_node.set("disabled", "true")
            found = self.step(step_node, where, names)
            if found is not None:
                steps.append(found)
        return TestCase(
            name=name,
            steps=tuple(steps),
            properties=_properties(node),
            fail_on_error=_flag(node.get("failOnError"), True),
            disabled=disabled,
            description=_text(node, "description"),
        )

    def suite(self, node: Any) -> TestSuite:
        name = node.get("name", "")
        disabled = _flag(node.get("disabled"), False)
        if not disabled:
            self.scripts(node, f'test suite "{name}"')
        cases = []
        for case_node in _children(node, "testCase"):
            if disabled:
                case_node.set("disabled", "true")
            cases.append(self.case(case_node, name))
        return TestSuite(
            name=name,
            cases=tuple(cases),
            properties=_properties(node),
            disabled=disabled,
            description=_text(node, "description"),
        )


def read_project(data: bytes, path: Path | None = None) -> Project:
    """The project in ``data``; ``UnsupportedError`` names whatever it cannot run."""
    shown = str(path) if path else "the project"
    try:
        root = parse_xml(data, shown)
    except XmlError as exc:
        raise ProjectError(str(exc)) from None
    if root.tag != _con("soapui-project"):
        raise ProjectError(
            f"{shown} is not a SoapUI project (its root is {root.tag}, not "
            f"soapui-project in {SOAPUI})"
        )
    if _flag(root.get("composite"), False):
        raise ProjectError(f"{shown} is a composite (folder) project; export it as one file")
    reader = _Reader()
    reader.scripts(root, "the project")
    for interface in _children(root, "interface"):
        reader.interface(interface)
    suites = tuple(reader.suite(node) for node in _children(root, "testSuite"))
    if reader.problems:
        raise UnsupportedError(reader.problems)
    return Project(
        name=root.get("name", ""),
        properties=_properties(root),
        interfaces=reader.interfaces,
        suites=suites,
        path=path,
        description=_text(root, "description"),
    )


def load_project(path: Path) -> Project:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ProjectError(f"cannot read {path}: {exc.strerror}") from None
    return read_project(data, path)
