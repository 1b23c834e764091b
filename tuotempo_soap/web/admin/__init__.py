"""The back office under ``/admin``: server-rendered pages for operators.

It sits above ``services/`` like the SOAP side and never touches ``store/``.
Jinja2 templates (autoescaped) in ``templates/``, one style sheet in
``static/``, no JavaScript: every page works with plain links and forms.

What is where:

* ``app.py``: ``AdminApp``, the WSGI application: sessions, the CSRF check on
  every POST, the access check, security headers, error pages; and
  ``AdminRequest``, what every view gets.
* ``routing.py``: the registry of pages (``pages``), ``Access`` levels, ``NAV``.
* ``sessions.py``: the signed session cookie and its key (``TUOTEMPO_ADMIN_SECRET``).
* ``texts.py``: the words of every page in es, it and en.
* ``pages/``: one module per subject; each registers its views on import.

How to add a page
-----------------

1. Create ``pages/<subject>.py`` (every module there is imported by
   ``pages.load``; nothing else lists it) and register each view::

       from werkzeug.wrappers import Response

       from ....services.instances import Instance
       from ..app import AdminRequest
       from ..routing import pages

       @pages.page("/<instance:instance>/clinic")             # one instance's page
       def clinic(req: AdminRequest, instance: Instance) -> Response:
           return req.render("clinic.html", status=...)

       @pages.page("/outbox", methods=("GET", "POST"))        # any operator's page
       def outbox(req: AdminRequest) -> Response:
           if req.http.method == "POST":
               ...  # the CSRF token was checked before the view ran
               return req.redirect("outbox")                   # 303 after a POST
           return req.render("outbox.html", ...)

   The endpoint is the function's name (``endpoint=`` to choose another). A
   rule with ``<instance:instance>`` is for operators of that instance only:
   the view gets the ``Instance``, and an operator who may not see it gets
   404 before the view runs. Other rules need a signed-in operator
   (``req.who``); list only what ``req.who.may_see(instance_id)`` allows.
   ``access=Access.PUBLIC`` is for pages without sign-in (there should be
   no more of those).

2. Add its template in ``templates/``, starting with
   ``{% extends "base.html" %}`` and filling ``{% block title %}`` and
   ``{% block content %}``. Every template has ``req``, ``t`` (texts),
   ``url`` (``url('messages')``; ``instance`` defaults to the current one),
   ``local`` (a stored UTC time as the instance's wall time) and
   ``csrf_field``. Every ``<form method="post">`` must contain
   ``{{ csrf_field() }}``, or it is refused with 403. Patient data is masked
   with the ``mask_*`` filters (``{{ phone|mask_phone }}``).

3. Add its words to ``texts.py`` in every language (a unit test checks).

4. The navigation (``routing.NAV``) already names ``clinics``, ``outbox`` and
   ``audit``: a page registered under one of those endpoints appears in the
   layout's navigation by itself (a page of one instance only while an
   instance is being viewed). A new entry is one more ``NavItem``.

5. For the audit log: ``req.actor`` is the operator as ``services.audit``
   knows it. The message page includes ``templates/message_actions.html``
   if it exists (with ``message`` and ``instance`` in its context), for the
   buttons that act on a message.
"""

from __future__ import annotations

from .app import AdminApp, AdminRequest, build_admin

__all__ = ["AdminApp", "AdminRequest", "build_admin"]
