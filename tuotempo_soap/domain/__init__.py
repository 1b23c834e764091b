"""Plain types and parsing rules of the integration guide.

Dates (``dd/mm/yyyy``), times (``hh:mm``), phone numbers, status values and the
reservation record with its NOT NULL and length rules. Imports nothing of the
project, touches no database and no network.
"""
