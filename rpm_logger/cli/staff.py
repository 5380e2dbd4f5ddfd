"""`rpm-logger staff`: add, change and list staff, and their voice access."""


import click

from presentation import render
from rpm_logger.cli.common import Exit, current_service, handled, interactive, operator_name
from rpm_logger.cli.root import cli
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
              help="Deactivate: they can no longer log; their entries keep counting.")
@click.option("--active", "active", flag_value=True, help="Reactivate.")
@click.option("--voice-pin", default=None,
              help="Voice menu PIN, 4-8 digits; '-' asks at a hidden prompt; '' removes it. "
                   "Clears a voice lock.")
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
    if voice_pin == "-":
        if not interactive():
            raise Exit("no terminal to type the voice PIN on: nothing changed", 2)
        voice_pin = click.prompt("Voice PIN (4-8 digits)", hide_input=True,
                                 confirmation_prompt=True, err=True)
    return current_service().voice_access.set_pin(slack_user_id, voice_pin, actor=operator_name(by))


@staff.command("list")
@click.option("--all", "include_inactive", is_flag=True, help="Include inactive staff.")
@handled
def staff_list(include_inactive: bool) -> None:
    """List staff."""
    service = current_service()
    for view in service.staff.list(include_inactive=include_inactive):
        click.echo(render.staff_text(view, service.ctx.policy.zone))
