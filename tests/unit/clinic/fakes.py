"""A scripted clinic behind a requests adapter: zeep, our transport and our error
mapping run for real, no socket is opened."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache

import requests
import zeep.cache
from lxml import etree
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict

from examples.clinic_server.app import build_wsdl
from tuotempo_soap.soap.wsdl import CLINIC_LOCATION_PLACEHOLDER, with_location

TNS = "http://tuotempo-soap.org/clinic/v1"
CLINIC_URL = "http://clinic.test/clinic"
WSDL_URL = f"{CLINIC_URL}?wsdl"

Step = requests.Response | BaseException | Callable[[requests.PreparedRequest], requests.Response]


@lru_cache(maxsize=1)
def clinic_wsdl() -> bytes:
    return with_location(build_wsdl(), CLINIC_URL, CLINIC_LOCATION_PLACEHOLDER)


def response(
    status: int, body: bytes | str, content_type: str = "text/xml; charset=utf-8"
) -> requests.Response:
    answer = requests.Response()
    answer.status_code = status
    answer._content = body.encode() if isinstance(body, str) else body
    answer.headers = CaseInsensitiveDict({"Content-Type": content_type})
    answer.encoding = "utf-8"
    return answer


def envelope(body: str) -> str:
    return (
        "<?xml version='1.0' encoding='UTF-8'?>"
        '<soap11env:Envelope xmlns:soap11env="http://schemas.xmlsoap.org/soap/envelope/"'
        f' xmlns:tns="{TNS}"><soap11env:Body>{body}</soap11env:Body></soap11env:Envelope>'
    )


def answer(operation: str, result: str, result_name: str | None = None) -> requests.Response:
    """A 200 answer of ``operation`` whose result element holds ``result``."""
    name = result_name or f"{operation}Result"
    return response(
        200,
        envelope(
            f"<tns:{operation}Response><tns:{name}>{result}</tns:{name}></tns:{operation}Response>"
        ),
    )


def fault(code: str, message: str, status: int = 500) -> requests.Response:
    detail = (
        f"<detail><tns:ClinicFault><tns:CODE>{code}</tns:CODE>"
        f"<tns:MESSAGE>{message}</tns:MESSAGE></tns:ClinicFault></detail>"
    )
    return response(
        status,
        envelope(
            f"<soap11env:Fault><faultcode>soap11env:{code}</faultcode>"
            f"<faultstring>{message}</faultstring>{detail}</soap11env:Fault>"
        ),
    )


def fields(**values: str | None) -> str:
    return "".join(
        f"<tns:{name}>{value}</tns:{name}>" for name, value in values.items() if value is not None
    )


class DictCache(zeep.cache.Base):
    """zeep's InMemoryCache is one dict per process; tests keep theirs apart."""

    def __init__(self) -> None:
        self.documents: dict[str, bytes] = {}

    def add(self, url: str, content: bytes) -> None:
        self.documents[url] = content

    def get(self, url: str) -> bytes | None:
        return self.documents.get(url)


@dataclass
class ScriptedClinic(BaseAdapter):
    """GETs are served from ``documents``; each POST takes the next ``script`` step."""

    documents: dict[str, bytes] = field(default_factory=dict)
    script: list[Step] = field(default_factory=list)
    posts: list[requests.PreparedRequest] = field(default_factory=list)
    gets: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__()

    def send(self, request: requests.PreparedRequest, **kwargs: object) -> requests.Response:  # type: ignore[override]
        url = str(request.url)
        if request.method == "GET":
            self.gets.append(url)
            body = self.documents.get(url)
            if body is None:
                return self._done(request, response(404, "not found", "text/plain"))
            return self._done(request, response(200, body))
        self.posts.append(request)
        if not self.script:
            raise AssertionError(f"unexpected POST #{len(self.posts)}: {operation_of(request)}")
        step = self.script.pop(0)
        if isinstance(step, BaseException):
            raise step
        if callable(step):
            return self._done(request, step(request))
        return self._done(request, step)

    @staticmethod
    def _done(request: requests.PreparedRequest, answer: requests.Response) -> requests.Response:
        answer.request = request
        answer.url = str(request.url)
        return answer

    def close(self) -> None:
        pass


def operation_of(request: requests.PreparedRequest) -> str:
    body = request.body if isinstance(request.body, bytes) else str(request.body).encode()
    root = etree.fromstring(body)
    operation = root.find("{http://schemas.xmlsoap.org/soap/envelope/}Body")[0]
    return etree.QName(operation).localname


def session_for(clinic: ScriptedClinic) -> requests.Session:
    session = requests.Session()
    session.mount("http://", clinic)
    session.mount("https://", clinic)
    return session
