"""Folders we read exports from and write files to: a local folder, FTP, FTPS
(explicit, ``AUTH TLS``) or SFTP, behind one small interface.

``FileTransport`` lists a folder's regular files (``files``) (name, size, modification
time), copies one into a local file object, and uploads a file atomically: under
a hidden temporary name first (``.NAME.RANDOM.part``), renamed when complete, so
a reader on the other side never sees half a file. ``open_transport`` opens one
from a ``Location`` (``/path``, ``file:///path``, ``ftp://``, ``ftps://``,
``sftp://``) and ``TransportOptions``.

Trust is never implied: FTPS checks the server's certificate (against the
system's CAs, or ``ca_file``), SFTP compares the server's host key with the
configured one (an OpenSSH public key line, or its ``SHA256:`` fingerprint) and
says what the server presented when none is set. Passwords come from the
caller (read from an environment variable it names), never from the URL.
Every failure leaves as a ``FileTransportError`` (``errors.transport_error``).
"""

from __future__ import annotations

import base64
import contextlib
import ftplib
import hashlib
import os
import posixpath
import secrets
import shutil
import socket
import ssl
import stat
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Protocol, TypeVar
from urllib.parse import unquote, urlsplit

from .errors import FileAuthenticationError, FileTransportError, transport_error

if TYPE_CHECKING:
    import paramiko

SCHEMES = ("file", "ftp", "ftps", "sftp")
_DEFAULT_PORTS = {"ftp": 21, "ftps": 21, "sftp": 22}
CHUNK = 64 * 1024

T = TypeVar("T")


@dataclass(frozen=True)
class RemoteFile:
    """A regular file of a folder; ``modified`` in naive UTC when the server says."""

    name: str
    size: int
    modified: datetime | None = None


@dataclass(frozen=True)
class Location:
    """Where files are: a scheme, a server, and a path (a folder, or a file)."""

    scheme: str
    path: str
    host: str | None = None
    port: int | None = None
    username: str | None = None

    @classmethod
    def parse(cls, text: str) -> Location:
        """``/path``, ``file:///path``, ``ftp[s]://[user@]host[:port]/path``,
        ``sftp://[user@]host[:port]/path``; a password in the URL is refused."""
        value = text.strip()
        if not value:
            raise FileTransportError("no folder given")
        if "://" not in value:
            return cls("file", str(Path(value).expanduser().resolve()))
        parts = urlsplit(value)
        scheme = parts.scheme.lower()
        if scheme not in SCHEMES:
            raise FileTransportError(
                f"'{scheme}' is not a way to reach a folder; use a path, file://, ftp://, "
                "ftps:// or sftp://"
            )
        if parts.password is not None:
            raise FileTransportError(
                "the URL holds a password: remove it and name the environment variable "
                "that holds it instead (--password-env)"
            )
        path = unquote(parts.path) or "/"
        if scheme == "file":
            return cls("file", str(Path(path).resolve()))
        if not parts.hostname:
            raise FileTransportError(f"{scheme}:// needs a host name")
        try:
            port = parts.port
        except ValueError:
            raise FileTransportError(f"the port of {value} is not a number") from None
        return cls(
            scheme,
            path,
            host=parts.hostname,
            port=port or _DEFAULT_PORTS[scheme],
            username=unquote(parts.username) if parts.username else None,
        )

    def __str__(self) -> str:
        if self.scheme == "file":
            return self.path
        user = f"{self.username}@" if self.username else ""
        port = "" if self.port == _DEFAULT_PORTS[self.scheme] else f":{self.port}"
        return f"{self.scheme}://{user}{self.host}{port}{self.path}"

    def with_path(self, path: str) -> Location:
        return replace(self, path=path)

    def same_server(self, other: Location) -> bool:
        return (self.scheme, self.host, self.port) == (other.scheme, other.host, other.port)

    def join(self, *names: str) -> str:
        if self.scheme == "file":
            return str(Path(self.path, *names))
        return posixpath.join(self.path, *names)

    def parent(self) -> tuple[Location, str]:
        """The folder holding ``path`` and the last part of ``path``."""
        if self.scheme == "file":
            here = Path(self.path)
            return self.with_path(str(here.parent)), here.name
        head, tail = posixpath.split(self.path.rstrip("/"))
        return self.with_path(head or "/"), tail


@dataclass(frozen=True)
class TransportOptions:
    """How to log in and whom to trust. ``password`` is never shown."""

    username: str | None = None
    password: str | None = field(default=None, repr=False)
    key_file: str | None = None  # SFTP: a private key (the password is its passphrase)
    host_key: str | None = None  # SFTP: "ssh-ed25519 AAAA..." or "SHA256:..."
    ca_file: str | None = None  # FTPS: the CA (or self-signed certificate) to trust
    timeout: float = 30.0


class FileTransport(Protocol):
    """One open connection to a server (or the local file system)."""

    def files(self, folder: str) -> list[RemoteFile]:
        """The regular files of ``folder`` (no folders, links followed where the server does)."""
        ...

    def download(self, folder: str, name: str, sink: Callable[[bytes], object]) -> None:
        """Hand the file's bytes to ``sink``, in order, a chunk at a time."""
        ...

    def upload(self, folder: str, name: str, source: BinaryIO) -> None:
        """Write ``source`` as ``folder/name`` atomically (a temporary name, then a
        rename), replacing a file of that name."""
        ...

    def close(self) -> None: ...


def _part_name(name: str) -> str:
    return f".{name}.{secrets.token_hex(4)}.part"


def _mapped(where: str, action: Callable[[], T]) -> T:
    try:
        return action()
    except FileTransportError:
        raise
    except Exception as exc:
        raise transport_error(exc, where) from exc


# --- local folder ------------------------------------------------------------------


class LocalTransport:
    """A folder of this machine (a share mounted here, or the clinic's own drop folder)."""

    def files(self, folder: str) -> list[RemoteFile]:
        def listing() -> list[RemoteFile]:
            found = []
            with os.scandir(folder) as entries:
                for entry in entries:
                    if not entry.is_file():
                        continue
                    info = entry.stat()
                    modified = datetime.fromtimestamp(info.st_mtime, UTC).replace(tzinfo=None)
                    found.append(RemoteFile(entry.name, info.st_size, modified))
            return found

        return _mapped(f"list {folder}", listing)

    def download(self, folder: str, name: str, sink: Callable[[bytes], object]) -> None:
        path = os.path.join(folder, name)

        def copy() -> None:
            with open(path, "rb") as source:
                while chunk := source.read(CHUNK):
                    sink(chunk)

        _mapped(f"read {path}", copy)

    def upload(self, folder: str, name: str, source: BinaryIO) -> None:
        final = os.path.join(folder, name)
        temporary = os.path.join(folder, _part_name(name))

        def write() -> None:
            try:
                with open(temporary, "wb") as target:
                    shutil.copyfileobj(source, target, CHUNK)
                    target.flush()
                    os.fsync(target.fileno())
                os.replace(temporary, final)
            except BaseException:
                with _quietly():
                    os.unlink(temporary)
                raise

        _mapped(f"write {final}", write)

    def close(self) -> None:
        pass


# --- FTP and FTPS ------------------------------------------------------------------


class _SessionReusingFTPTLS(ftplib.FTP_TLS):
    """FTPS whose data connections resume the control connection's TLS session, as
    servers set to require it (vsftpd's ``require_ssl_reuse``, FileZilla Server) insist."""

    def ntransfercmd(
        self, cmd: str, rest: int | str | None = None
    ) -> tuple[socket.socket, int | None]:
        conn, size = ftplib.FTP.ntransfercmd(self, cmd, rest)  # noqa: S321 - FTPS, below
        if getattr(self, "_prot_p", False):
            session = getattr(self.sock, "session", None)
            conn = self.context.wrap_socket(conn, server_hostname=self.host, session=session)
        return conn, size


def _mlsd_time(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.strptime(text[:14], "%Y%m%d%H%M%S")
    except ValueError:
        return None


class FtpTransport:
    """FTP, or FTPS with ``AUTH TLS`` and a protected data channel (``PROT P``)."""

    def __init__(self, location: Location, options: TransportOptions) -> None:
        self._where = f"{location.scheme}://{location.host}:{location.port}"
        ftp: ftplib.FTP
        if location.scheme == "ftps":
            context = ssl.create_default_context(cafile=options.ca_file)
            ftp = _SessionReusingFTPTLS(context=context, timeout=options.timeout)
        else:
            # Plain FTP only where a clinic offers nothing else (the guide's own word).
            ftp = ftplib.FTP(timeout=options.timeout)  # noqa: S321
        self._ftp = ftp
        username = options.username or location.username

        def connect() -> None:
            ftp.connect(location.host or "", location.port or 21)
            if isinstance(ftp, ftplib.FTP_TLS):
                ftp.auth()
            if username:
                ftp.login(username, options.password or "")
            else:
                ftp.login()
            if isinstance(ftp, ftplib.FTP_TLS):
                ftp.prot_p()

        try:
            _mapped(f"connect to {self._where}", connect)
        except FileTransportError:
            self.close()
            raise
        self._mlsd = True

    def files(self, folder: str) -> list[RemoteFile]:
        return _mapped(f"list {self._where}{folder}", lambda: self._listing(folder))

    def _listing(self, folder: str) -> list[RemoteFile]:
        if self._mlsd:
            try:
                return [
                    RemoteFile(name, int(facts.get("size", 0)), _mlsd_time(facts.get("modify")))
                    for name, facts in self._ftp.mlsd(folder, facts=["type", "size", "modify"])
                    if facts.get("type", "file") == "file"
                ]
            except ftplib.error_perm as exc:
                if not str(exc).startswith("500") and not str(exc).startswith("502"):
                    raise
                self._mlsd = False  # an old server: NLST, then SIZE and MDTM per file
        found = []
        for path in self._ftp.nlst(folder):
            name = posixpath.basename(path)
            try:
                self._ftp.voidcmd("TYPE I")
                size = self._ftp.size(posixpath.join(folder, name))
            except ftplib.error_perm:
                continue  # a folder
            modified = None
            try:
                reply = self._ftp.voidcmd(f"MDTM {posixpath.join(folder, name)}")
                modified = _mlsd_time(reply.split()[-1])
            except ftplib.error_perm:
                pass
            found.append(RemoteFile(name, int(size or 0), modified))
        return found

    def download(self, folder: str, name: str, sink: Callable[[bytes], object]) -> None:
        path = posixpath.join(folder, name)
        _mapped(
            f"read {self._where}{path}",
            lambda: self._ftp.retrbinary(f"RETR {path}", sink, blocksize=CHUNK),
        )

    def upload(self, folder: str, name: str, source: BinaryIO) -> None:
        final = posixpath.join(folder, name)
        temporary = posixpath.join(folder, _part_name(name))

        def write() -> None:
            self._ftp.storbinary(f"STOR {temporary}", source, blocksize=CHUNK)
            try:
                self._ftp.rename(temporary, final)
            except ftplib.error_perm:
                # Servers that will not rename over an existing file: remove it first.
                with _quietly():
                    self._ftp.delete(final)
                self._ftp.rename(temporary, final)

        try:
            _mapped(f"write {self._where}{final}", write)
        except FileTransportError:
            with _quietly():
                self._ftp.delete(temporary)
            raise

    def close(self) -> None:
        try:
            self._ftp.quit()
        except Exception:
            self._ftp.close()


# --- SFTP --------------------------------------------------------------------------


def key_fingerprint(key: paramiko.PKey) -> str:
    """OpenSSH's ``SHA256:`` fingerprint of a public key."""
    digest = hashlib.sha256(key.asbytes()).digest()
    return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


def _host_key_matches(key: paramiko.PKey, expected: str) -> bool:
    wanted = expected.strip()
    if wanted.startswith("SHA256:"):
        return secrets.compare_digest(key_fingerprint(key), wanted.rstrip("="))
    parts = wanted.split()
    if len(parts) >= 2:
        return parts[0] == key.get_name() and secrets.compare_digest(parts[1], key.get_base64())
    return False


class SftpTransport:
    """SFTP over SSH (paramiko): password or private key, the host key pinned."""

    def __init__(self, location: Location, options: TransportOptions) -> None:
        import paramiko

        self._where = f"sftp://{location.host}:{location.port}"
        self._transport: paramiko.Transport | None = None
        username = options.username or location.username
        if not username:
            raise FileTransportError(f"{self._where}: SFTP needs a user name (--username)")

        def connect() -> paramiko.SFTPClient:
            sock = socket.create_connection(
                (location.host or "", location.port or 22), timeout=options.timeout
            )
            transport = paramiko.Transport(sock)
            self._transport = transport
            transport.banner_timeout = options.timeout
            transport.start_client(timeout=options.timeout)
            key = transport.get_remote_server_key()
            if not options.host_key:
                raise FileAuthenticationError(
                    f"{self._where}: no host key is configured for this server; it presented "
                    f"{key.get_name()} {key_fingerprint(key)}. Check that fingerprint with the "
                    "clinic, then set it (files source set --host-key)"
                )
            if not _host_key_matches(key, options.host_key):
                raise FileAuthenticationError(
                    f"{self._where}: the server presented host key {key.get_name()} "
                    f"{key_fingerprint(key)}, not the configured one; refusing to log in"
                )
            if options.key_file:
                private = paramiko.PKey.from_path(options.key_file, options.password)
                transport.auth_publickey(username, private)
            else:
                transport.auth_password(username, options.password or "")
            client = paramiko.SFTPClient.from_transport(transport)
            if client is None:
                raise FileTransportError(f"{self._where}: the server offers no SFTP")
            channel = client.get_channel()
            if channel is not None:
                channel.settimeout(options.timeout)
            return client

        try:
            self._sftp = _mapped(f"connect to {self._where}", connect)
        except FileTransportError:
            self.close()
            raise

    def files(self, folder: str) -> list[RemoteFile]:
        def listing() -> list[RemoteFile]:
            return [
                RemoteFile(
                    entry.filename,
                    int(entry.st_size or 0),
                    datetime.fromtimestamp(entry.st_mtime, UTC).replace(tzinfo=None)
                    if entry.st_mtime is not None
                    else None,
                )
                for entry in self._sftp.listdir_attr(folder)
                if entry.st_mode is None or stat.S_ISREG(entry.st_mode)
            ]

        return _mapped(f"list {self._where}{folder}", listing)

    def download(self, folder: str, name: str, sink: Callable[[bytes], object]) -> None:
        path = posixpath.join(folder, name)

        def copy() -> None:
            with self._sftp.open(path, "rb") as source:
                source.prefetch()
                while chunk := source.read(CHUNK):
                    sink(chunk)

        _mapped(f"read {self._where}{path}", copy)

    def upload(self, folder: str, name: str, source: BinaryIO) -> None:
        final = posixpath.join(folder, name)
        temporary = posixpath.join(folder, _part_name(name))

        def write() -> None:
            self._sftp.putfo(source, temporary, confirm=True)
            try:
                self._sftp.posix_rename(temporary, final)
            except OSError:
                # No posix-rename extension: a plain rename will not replace a file.
                with _quietly():
                    self._sftp.remove(final)
                self._sftp.rename(temporary, final)

        try:
            _mapped(f"write {self._where}{final}", write)
        except FileTransportError:
            with _quietly():
                self._sftp.remove(temporary)
            raise

    def close(self) -> None:
        sftp = getattr(self, "_sftp", None)
        if sftp is not None:
            with _quietly():
                sftp.close()
        if self._transport is not None:
            with _quietly():
                self._transport.close()


# --- opening -----------------------------------------------------------------------


def open_transport(location: Location, options: TransportOptions) -> FileTransport:
    if location.scheme == "file":
        return LocalTransport()
    if location.scheme in ("ftp", "ftps"):
        return FtpTransport(location, options)
    if location.scheme == "sftp":
        return SftpTransport(location, options)
    raise FileTransportError(f"'{location.scheme}' is not a way to reach a folder")


@contextmanager
def connected(location: Location, options: TransportOptions) -> Iterator[FileTransport]:
    transport = open_transport(location, options)
    try:
        yield transport
    finally:
        transport.close()


def _quietly() -> contextlib.suppress:
    """For clean-up after a failure: a second failure must not hide the first."""
    return contextlib.suppress(Exception)
