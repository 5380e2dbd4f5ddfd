"""`rpm-logger staff`: add, change and list staff, and their voice access."""

import sys

import click

from presentation import render
from rpm_logger.cli.common import (
    Exit,
    confirmed,
    current_service,
    current_settings,
    handled,
    interactive,
    may_create_database,
    operator_name,
)
from rpm_logger.cli.root import cli
from service.offboarding import TimerDropped
from service.staff import StaffChanges
from service.views import StaffView


@cli.group()
def staff() -> None:
    """Add and change staff."""


@staff.command("add")
@click.argument("slack_user_id")
@click.option("--name", required=True)
@click.option("--role", required=True, help="physician|qhp|clinical_staff|non_clinical")
@click.option("--phone", "phones", multiple=True, help="Phone number (repeatable).")
@click.option("--npi", default=None, help="10-digit NPI (physicians and QHPs).")
@click.option("--admin", is_flag=True, default=False)
@click.option("--email", default=None,
              help="Email the dashboard's sign-in (Entra, Google Workspace) knows them by.")
@click.option("--by", default=None, help="Who is making the change (audit).")
@handled
@may_create_database
def staff_add(slack_user_id: str, name: str, role: str, phones: tuple[str, ...],
              npi: str | None, admin: bool, email: str | None, by: str | None) -> None:
    """Add a staff member by Slack user id."""
    view = current_service().staff.add(slack_user_id=slack_user_id, name=name, role=role,
                                       phones=phones, npi=npi, is_admin=admin, email=email,
                                       actor=operator_name(by))
    click.echo(f"added {render.staff_text(view, current_service().ctx.policy.zone)}")


@staff.command("update")
@click.argument("slack_user_id")
@click.option("--name", default=None)
@click.option("--role", default=None)
@click.option("--phone", "phones", multiple=True)
@click.option("--remove-phone", "remove_phones", multiple=True)
@click.option("--twilio-number", "twilio_numbers", multiple=True,
              help="Clinic Twilio number assigned to them (calls to it are theirs).")
@click.option("--twilio-client", default=None,
              help="Twilio Client identity (client:NAME); '' clears it.")
@click.option("--npi", default=None)
@click.option("--admin/--no-admin", default=None)
@click.option("--email", default=None,
              help="Email the dashboard's sign-in knows them by; '' removes it.")
@click.option("--inactive", "active", flag_value=False, default=None,
              help="Deactivate from now: they can no longer log, no call reaches them; their "
                   "entries keep counting. Refused while they have patients or a running "
                   "timer: use `staff offboard`.")
@click.option("--active", "active", flag_value=True, help="Reactivate.")
@click.option("--voice-pin", default=None,
              help="Voice menu PIN, 4-8 digits; '-' asks at a hidden prompt (with no "
                   "terminal: reads standard input's first line); '' removes it. Clears a "
                   "voice lock.")
@click.option("--voice-unlock", is_flag=True, default=False,
              help="Lift a wrong-PIN voice lock.")
@click.option("--by", default=None)
@handled
def staff_update(slack_user_id: str, name: str | None, role: str | None,
                 phones: tuple[str, ...], remove_phones: tuple[str, ...],
                 twilio_numbers: tuple[str, ...], twilio_client: str | None, npi: str | None,
                 admin: bool | None, email: str | None, active: bool | None,
                 voice_pin: str | None, voice_unlock: bool, by: str | None) -> None:
    """Change a staff member's role, phones, Twilio number/client, admin flag, activity or
    voice access."""
    changes = StaffChanges(name=name, role=role, npi=npi, is_admin=admin, active=active,
                           add_phones=phones, remove_phones=remove_phones,
                           add_twilio_numbers=twilio_numbers, twilio_client=twilio_client,
                           email=email)
    if voice_pin is not None or voice_unlock:
        if changes != StaffChanges():
            raise Exit("--voice-pin and --voice-unlock change voice access only: run the "
                       "other changes as their own `staff update`; nothing changed", 2)
        view = _voice_access_update(slack_user_id, voice_pin, by)
    else:
        view = current_service().staff.update(slack_user_id, changes, actor=operator_name(by))
    click.echo(f"updated {render.staff_text(view, current_service().ctx.policy.zone)}")


def _voice_access_update(slack_user_id: str, voice_pin: str | None,
                         by: str | None) -> StaffView:
    """A new PIN (which also lifts a lock) or only the unlock; '-' reads the PIN at a hidden
    prompt, typed twice, so it is never in the shell's history or the process list."""
    if voice_pin is None:
        return current_service().voice_access.unlock(slack_user_id, actor=operator_name(by))
    if voice_pin == "-" and interactive():
        voice_pin = click.prompt("Voice PIN (4-8 digits)", hide_input=True,
                                 confirmation_prompt=True, err=True)
    elif voice_pin == "-":
        voice_pin = _piped_pin()
    return current_service().voice_access.set_pin(slack_user_id, voice_pin, actor=operator_name(by))


_PIN_LINE_LIMIT = 64  # a PIN is 4-8 digits: a longer first line is refused, never read on


def _piped_pin() -> str:
    """With no terminal, the PIN is the first line of standard input (a script pipes it, so
    it is never on a command line): its line ending dropped, nothing else; an empty first
    line is refused, a malformed one the service refuses without repeating it."""
    line = sys.stdin.readline(_PIN_LINE_LIMIT)
    pin = line.removesuffix("\n").removesuffix("\r")
    if not pin:
        raise Exit("no terminal to type the voice PIN on and no PIN on standard input's "
                   "first line: pipe it in, e.g. `printf '%s\\n' \"$PIN\" | rpm-logger staff "
                   "update SLACK_USER_ID --voice-pin -`; nothing changed", 2)
    return pin


@staff.command("list")
@click.option("--all", "include_inactive", is_flag=True, help="Include inactive staff.")
@handled
def staff_list(include_inactive: bool) -> None:
    """List staff."""
    service = current_service()
    for view in service.staff.list(include_inactive=include_inactive):
        click.echo(render.staff_text(view, service.ctx.policy.zone))


@staff.command("offboard")
@click.argument("slack_user_id")
@click.option("--reassign-to", required=True,
              help="Active staff member who takes over their patients (Slack id).")
@click.option("--reason", default=None, help="Why (kept in the audit trail).")
@click.option("--drop-timer", is_flag=True, default=False,
              help="Drop their running timer with a note instead of logging it.")
@click.option("--yes", is_flag=True, help="Do not ask.")
@click.option("--by", default=None, help="Who is making the change (audit).")
@handled
def staff_offboard(slack_user_id: str, reassign_to: str, reason: str | None,
                   drop_timer: bool, yes: bool, by: str | None) -> None:
    """A member leaves: inactive from now, patients reassigned, timer ended, voice PIN
    removed, in one transaction (docs/people.md)."""
    service = current_service()
    zone = service.ctx.policy.zone
    plan = service.offboarding.preview(slack_user_id, reassign_to=reassign_to,
                                       drop_timer=drop_timer)
    click.echo(render.offboard_plan_text(plan, zone), err=True)
    confirmed(f"Offboard {plan.member.slack_user_id}?", yes)
    done = service.offboarding.offboard(slack_user_id, reassign_to=reassign_to, reason=reason,
                                        drop_timer=drop_timer, actor=operator_name(by))
    click.echo(render.offboarded_text(done, zone))
    if done.dropped is not None:
        _tell_admins(done.dropped)


def _tell_admins(dropped: TimerDropped) -> None:
    """A dropped timer is told to every active admin by Slack DM (the call DMs' sender),
    after the commit; without SLACK_BOT_TOKEN, or when Slack refuses, stderr says so."""
    from bot.call_dms import SlackCallDMs

    notifier = SlackCallDMs.from_settings(current_settings())
    sent = 0
    if notifier is not None:
        for admin in dropped.admins:
            try:
                notifier.timer_dropped_to_admin(admin, dropped)
                sent += 1
            except Exception:  # noqa: BLE001 - offboarded; the audit trail keeps the note
                pass
    if sent < len(dropped.admins) or not dropped.admins:
        click.echo(f"admins told by Slack DM: {sent} of {len(dropped.admins)} (the dropped "
                   "timer is in the audit trail: timer.drop_offboard)", err=True)
