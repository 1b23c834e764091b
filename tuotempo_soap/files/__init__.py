"""Data export files (guide A.1): the clinic's periodic export read from a
folder, and the cancellations file written back to it.

``formats`` reads and writes the files (encoding, delimiter and date format
detected or configured), ``transports`` reaches the folder (local, FTP, FTPS,
SFTP) behind one small interface, ``importer`` streams one export in bounded
memory, ``exporter`` writes the cancellations file, ``window`` says which
appointments an export covers, ``errors`` maps every failure to ours. The use
cases (which files, what their rows change) are in ``services.file_imports``,
``services.file_exports`` and ``services.file_sources``; this package touches
no database.
"""

from .errors import FileAuthenticationError, FileExchangeError, FileFormatError, FileTransportError
from .transports import FileTransport, Location, RemoteFile, TransportOptions, open_transport

__all__ = [
    "FileAuthenticationError",
    "FileExchangeError",
    "FileFormatError",
    "FileTransport",
    "FileTransportError",
    "Location",
    "RemoteFile",
    "TransportOptions",
    "open_transport",
]
