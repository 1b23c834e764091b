"""A bounded, seeded corpus of SOAP requests carrying distinctive patient data.

Valid requests of the four operations, then mutations of them: the patient's
phone number, e-mail address and name moved into every field (typed or not),
into element and attribute names, ``xsi:type``, a DOCTYPE, comments, headers;
envelopes truncated, byte-flipped, mis-encoded, in SOAP 1.2, in the wrong
namespace. The log-privacy tests send it all and then look for the patient's
data in every log line.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12_ENV = "http://www.w3.org/2003/05/soap-envelope"
TNS = "http://tuotempo-soap.org/v1"
XSI = "http://www.w3.org/2001/XMLSchema-instance"


@dataclass(frozen=True)
class Patient:
    """Data that must never be logged, spelled so nothing else looks like it."""

    phones: tuple[str, ...]
    emails: tuple[str, ...]
    names: tuple[str, ...]

    @classmethod
    def invent(cls, seed: int) -> Patient:
        rng = random.Random(seed)
        digits = [f"{rng.randrange(10**7, 10**8):08d}" for _ in range(2)]
        tag = f"{rng.randrange(16**6):06x}"
        return cls(
            phones=(f"6{digits[0]}", f"+34 7{digits[1][:2]} {digits[1][2:5]} {digits[1][5:]}"),
            emails=(f"ximena.q{tag}@example.org", f"B.Ortolani{tag}@Example.COM"),
            names=(f"Wilhelmina{tag}", f"Quastenberg{tag}"),
        )

    def values(self) -> tuple[str, ...]:
        return (*self.phones, *self.emails, *self.names)

    def needles(self) -> set[str]:
        """What to look for in a log: each value, the digits of each phone (a
        log may normalise +34 7.. to 347..), each name and address lower-cased."""
        found = {value for value in self.values()}
        found |= {re.sub(r"\D", "", phone) for phone in self.phones}
        found |= {value.lower() for value in (*self.emails, *self.names)}
        return found


@dataclass(frozen=True)
class Request:
    label: str
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


def _fields(values: dict[str, str]) -> str:
    return "".join(f"<t:{name}>{value}</t:{name}>" for name, value in values.items())


def _envelope(operation: str, inner: str, ns: str = SOAP_ENV) -> str:
    return (
        f'<s:Envelope xmlns:s="{ns}" xmlns:t="{TNS}" xmlns:xsi="{XSI}"><s:Body>'
        f"<t:{operation}>{inner}</t:{operation}></s:Body></s:Envelope>"
    )


def valid_requests(
    auth: dict[str, str], who: Patient
) -> dict[str, dict[str, str | dict[str, str]]]:
    """Per operation, its fields (a nested dict is an item of the batch)."""
    phone, phone2 = who.phones
    email, email2 = who.emails
    first, last = who.names
    return {
        "updateReservations": {
            "RESERVATION": {
                "APP_LID": "FZ-1",
                "APP_DATE": "24/02/2027",
                "APP_START_TIME": "09:30",
                "RESOURCE_LID": "DR-1",
                "USER_MOBILE_PHONE": phone,
                "USER_LANDLINE_PHONE": phone2,
                "USER_EMAIL": email,
                "USER_FIRST_NAME": first,
                "USER_SECOND_NAME": last,
                "NOTES": f"{first} {last}, {phone2}, {email2}",
            }
        },
        "getReservations": {
            "APP_LID": phone,
            "RESOURCE_LID": first,
            "START_DATE": "01/02/2027",
            "MAX_RESULTS": "10",
        },
        "updateMessages": {
            "MESSAGE": {
                "LEGACY_ID": "FZ-M1",
                "CHANNEL": "SMS",
                "TO": phone,
                "TEXT": f"Hola {first} {last}, {email}",
            }
        },
        "searchMessages": {"TO": phone, "LEGACY_ID": email2, "MAX_RESULTS": "5"},
    }


def _render(operation: str, auth: dict[str, str], values: dict[str, object]) -> str:
    inner = f"<t:AUTH>{_fields(auth)}</t:AUTH>"
    for name, value in values.items():
        if isinstance(value, dict):
            block = "RESERVATIONS" if name == "RESERVATION" else "MESSAGES"
            inner += f"<t:{block}><t:{name}>{_fields(value)}</t:{name}></t:{block}>"
        else:
            inner += f"<t:{name}>{value}</t:{name}>"
    return _envelope(operation, inner)


def corpus(auth: dict[str, str], who: Patient, *, seed: int, size: int) -> Iterator[Request]:
    """``size`` requests at most, the same ones for the same seed."""
    rng = random.Random(seed)
    xml = {"Content-Type": "text/xml; charset=utf-8"}
    valid = valid_requests(auth, who)
    made: list[Request] = []

    def add(label: str, body: str | bytes, headers: dict[str, str] | None = None) -> None:
        data = body.encode() if isinstance(body, str) else body
        made.append(Request(label, data, {**xml, **(headers or {})}))

    for operation, values in valid.items():
        text = _render(operation, auth, values)
        add(f"{operation}: valid", text, {"SOAPAction": f'"{operation}"'})
        # Every field of the request holding each piece of patient data in turn.
        flat = [(name, None) for name, value in values.items() if not isinstance(value, dict)] + [
            (name, parent)
            for parent, value in values.items()
            if isinstance(value, dict)
            for name in value
        ]
        for name, parent in [
            *flat,
            ("MAX_RESULTS", None),
            ("PAGE_TOKEN", None),
            ("LAST_REQUEST_TIMESTAMP", None),
            ("STATUS", None),
        ]:
            for value in who.values():
                changed = {k: dict(v) if isinstance(v, dict) else v for k, v in values.items()}
                target = changed[parent] if parent else changed
                assert isinstance(target, dict)
                target[name] = value
                add(f"{operation}: {name} = patient data", _render(operation, auth, changed))
        for value in who.values():
            add(
                f"{operation}: AUTH holds patient data",
                _render(operation, {**auth, "USERNAME": value, "PASSWORD": value}, values),
            )
        # Structure.
        tag = who.names[1]
        add(
            f"{operation}: element named after the patient",
            text.replace("<t:AUTH>", f"<t:{tag}>{who.phones[0]}</t:{tag}><t:AUTH>"),
        )
        add(
            f"{operation}: attributes",
            text.replace(
                "<t:AUTH>", f'<t:AUTH {tag}="{who.emails[0]}" MAX_RESULTS="{who.phones[0]}">'
            ),
        )
        add(f"{operation}: xsi:type", text.replace("<t:AUTH>", f'<t:AUTH xsi:type="t:{tag}">'))
        add(
            f"{operation}: xsi:nil",
            text.replace("<t:AUTH>", f'<t:AUTH xsi:nil="true"><t:NOTES>{who.emails[1]}</t:NOTES>'),
        )
        add(f"{operation}: unknown operation", text.replace(f"t:{operation}>", f"t:{tag}>"))
        add(f"{operation}: wrong namespace", text.replace(TNS, f"urn:{tag}"))
        add(
            f"{operation}: SOAP 1.2",
            text.replace(SOAP_ENV, SOAP12_ENV),
            {"Content-Type": "application/soap+xml; charset=utf-8"},
        )
        add(f"{operation}: DOCTYPE", f'<!DOCTYPE s [<!ENTITY p "{who.phones[1]}">]>' + text)
        add(
            f"{operation}: comment, CDATA, PI",
            text.replace(
                "<t:AUTH>", f"<!-- {who.names[0]} --><?pi {who.phones[0]}?><t:AUTH>"
            ).replace(who.emails[0], f"<![CDATA[{who.emails[0]}]]>"),
        )
        add(f"{operation}: SOAPAction names the patient", text, {"SOAPAction": f'"{tag}"'})
        add(
            f"{operation}: charset names the patient",
            text,
            {"Content-Type": f"text/xml; charset={who.names[0]}"},
        )
        add(
            f"{operation}: JSON",
            f'{{"to": "{who.phones[0]}", "name": "{who.names[0]}"}}',
            {"Content-Type": "application/json"},
        )
        add(
            f"{operation}: no Body child",
            _envelope(operation, "").replace(
                f"<t:{operation}></t:{operation}>", f"<!-- {who.emails[0]} -->"
            ),
        )
        add(
            f"{operation}: two Body children",
            text.replace(
                "</s:Body>", f"<t:{operation}><t:TO>{who.phones[0]}</t:TO></t:{operation}></s:Body>"
            ),
        )
        add(
            f"{operation}: Latin-1 bytes",
            text.encode("utf-8").replace(
                who.names[0].encode(), who.names[0].encode() + b"\xe9\xff"
            ),
        )
        data = text.encode()
        for _ in range(6):
            cut = rng.randrange(1, len(data))
            add(f"{operation}: truncated at {cut}", data[:cut])
        for _ in range(6):
            mutated = bytearray(data)
            for _ in range(rng.randrange(1, 6)):
                mutated[rng.randrange(len(mutated))] = rng.choice(b"<>&\"'/=:;\x00\xff\xc3 x9")
            add(f"{operation}: flipped bytes", bytes(mutated))
    rng.shuffle(made)
    yield from made[: size - 1]
    # One body over the default 8 MiB limit, refused before it is parsed.
    big = _render("getReservations", auth, valid["getReservations"])
    filler = f"<!-- {who.phones[1]} -->" * 360_000
    yield Request("over the size limit", big.replace("<t:AUTH>", "<t:AUTH>" + filler).encode(), xml)
