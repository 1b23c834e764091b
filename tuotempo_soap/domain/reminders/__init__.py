"""Automatic patient reminders (guide A, tuOtempO memo): the pure rules.

``rules`` holds an instance's settings, ``templates`` the texts and their safe
renderer, ``planning`` when and how each reminder goes, ``replies`` what a
patient's answer means and changes. No database, no network, no clock: every
function that needs the time takes ``now``.
"""

from .planning import (
    AppointmentView,
    ChannelChoice,
    ComposedMessage,
    Plan,
    PlannedReminder,
    Skip,
    changed_fields,
    choose_channel,
    compose_message,
    make_plan,
    next_allowed,
    patient_key,
    plan_notice,
    plan_post_visit,
    plan_reminders,
    skip_reasons,
)
from .replies import Decision, Outcome, ReplyIntent, decide, parse_keypad, parse_reply
from .rules import ReminderRules, RulesError, language_fallback
from .templates import Template, TemplateError, render

__all__ = [
    "AppointmentView",
    "ChannelChoice",
    "ComposedMessage",
    "Decision",
    "Outcome",
    "Plan",
    "PlannedReminder",
    "ReminderRules",
    "ReplyIntent",
    "RulesError",
    "Skip",
    "Template",
    "TemplateError",
    "changed_fields",
    "choose_channel",
    "compose_message",
    "decide",
    "language_fallback",
    "make_plan",
    "next_allowed",
    "parse_keypad",
    "parse_reply",
    "patient_key",
    "plan_notice",
    "plan_post_visit",
    "plan_reminders",
    "render",
    "skip_reasons",
]
