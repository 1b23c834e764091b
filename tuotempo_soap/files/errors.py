"""The errors of file exchange, and the one place that turns transport failures
(``OSError``, ``ftplib``'s replies, ``ssl``, ``paramiko``) into ours.

``FileTransportError`` means the folder could not be read or written now: the
round is retried later, nothing is recorded as imported. ``FileFormatError``
means the file itself is unusable (no header, an unknown encoding, a required
column missing): it is recorded, reported in its result file, and not read
again until its content changes. Messages name the host, the folder and the
operation, never a password or a value of the file.
"""

from __future__ import annotations

import ftplib
import socket
import ssl

from ..errors import TuotempoError


class FileExchangeError(TuotempoError):
    """Base class of the errors of data export files."""

    code = "Server.FileExchangeError"


class FileTransportError(FileExchangeError):
    """The clinic's folder (local, FTP, FTPS or SFTP) could not be reached, read or
    written; worth another try later."""

    code = "Server.FileTransportUnavailable"


class FileAuthenticationError(FileTransportError):
    """The server refused the user or password, or presented a host key or a
    certificate we do not trust: retrying will not help until settings change."""

    code = "Server.FileTransportAuthentication"


class FileFormatError(FileExchangeError):
    """The file as a whole cannot be read as an export of the guide (A.1.1);
    ``field`` names the culprit (``header``, ``encoding``, a column)."""

    code = "Client.FileFormat"


def transport_error(exc: BaseException, where: str) -> FileTransportError:
    """``exc`` raised while doing ``where`` (e.g. ``list ftp://host/in``) as ours."""
    if isinstance(exc, FileTransportError):
        return exc
    if isinstance(exc, ftplib.error_perm):
        reply = str(exc).strip()[:200]
        if reply.startswith("530"):
            return FileAuthenticationError(f"{where}: login refused ({reply})")
        return FileTransportError(f"{where}: the server refused ({reply})")
    if isinstance(exc, ftplib.Error):
        return FileTransportError(f"{where}: {str(exc).strip()[:200]}")
    if isinstance(exc, ssl.SSLCertVerificationError):
        return FileAuthenticationError(
            f"{where}: the server's certificate is not trusted ({exc.verify_message}); "
            "give its CA with --ca-file"
        )
    if isinstance(exc, ssl.SSLError):
        return FileTransportError(f"{where}: TLS failed ({exc.reason or exc})")
    if isinstance(exc, socket.timeout | TimeoutError):
        return FileTransportError(f"{where}: timed out")
    if isinstance(exc, ConnectionRefusedError):
        return FileTransportError(f"{where}: connection refused")
    if isinstance(exc, socket.gaierror):
        return FileTransportError(f"{where}: unknown host")
    if isinstance(exc, FileNotFoundError):
        return FileTransportError(f"{where}: no such file or folder")
    if isinstance(exc, PermissionError):
        return FileTransportError(f"{where}: permission denied")
    if isinstance(exc, OSError):
        return FileTransportError(f"{where}: {exc.strerror or type(exc).__name__}")
    paramiko_error = _paramiko(exc, where)
    if paramiko_error is not None:
        return paramiko_error
    return FileTransportError(f"{where}: {type(exc).__name__}")


def _paramiko(exc: BaseException, where: str) -> FileTransportError | None:
    """paramiko's exceptions, without importing it for FTP-only processes."""
    try:
        import paramiko
    except ImportError:  # pragma: no cover - paramiko is a dependency
        return None
    if isinstance(exc, paramiko.AuthenticationException):
        return FileAuthenticationError(f"{where}: login refused")
    if isinstance(exc, paramiko.SSHException):
        return FileTransportError(f"{where}: SSH failed ({str(exc)[:200]})")
    return None
