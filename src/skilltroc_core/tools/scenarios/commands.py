"""What each ``do`` command of a scenario calls on the service (``HANDLERS``)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import TYPE_CHECKING, Any, TypeAlias

from ...refusals import refusal, shown
from .derived import DERIVED, DerivedCommand
from .format import CAMPAIGN, GIFT, MEMBER, REQUEST, SESSION, TUTORIAL, WORKSHOP, StepFailedError

if TYPE_CHECKING:
    from .running import Runner


#: A command's handler: what it did, in words, for the narration.
Handler: TypeAlias = "Callable[[Runner, Mapping[str, Any]], str]"
HANDLERS: dict[str, Handler] = {}


def handler(name: str) -> Callable[[Handler], Handler]:
    def register(function: Handler) -> Handler:
        HANDLERS[name] = function
        return function

    return register


def _bind(runner: Runner, kind: str, alias: str | None, value: str) -> None:
    if alias is not None:
        if alias in runner.aliases[kind]:
            raise StepFailedError(f"{kind} alias {alias!r} is already bound")
        runner.aliases[kind][alias] = value


def _m(runner: Runner, data: Mapping[str, Any], key: str = "member") -> str:
    return runner.id_of(MEMBER, data[key])


@handler("signup")
def _signup(runner: Runner, data: Mapping[str, Any]) -> str:
    alias = str(data["member"])
    if alias in runner.aliases[MEMBER]:
        raise StepFailedError(f"member alias {alias!r} is already bound")
    email = data.get("email", f"{alias}@example.org")
    provider = data.get("provider")
    password = None if provider else data.get("password", "correct horse battery staple")
    sponsor = data.get("sponsor")
    if sponsor is not None and "@" not in sponsor:
        sponsor = runner.id_of(MEMBER, sponsor)
    result = runner.app.signup(
        email, password=password, provider=provider, kind=data.get("kind", "individual"),
        category=data.get("category"), display_name=alias.title(), sponsor=sponsor,
    )
    _bind(runner, MEMBER, alias, result.member_id)
    if password is not None:
        runner.passwords[alias] = password
    runner.known_emails[alias] = email.strip().lower()
    if result.confirmation_token:
        runner.tokens[alias] = result.confirmation_token
        if data.get("confirmed", True):
            runner.app.confirm_email(result.member_id, result.confirmation_token)
    return f"{alias} ({result.member_id}, {email})"


@handler("confirm_email")
def _confirm(runner: Runner, data: Mapping[str, Any]) -> str:
    alias = str(data["member"])
    runner.app.confirm_email(_m(runner, data), runner.tokens.get(alias, "no-token"))
    return alias


@handler("complete_profile")
def _complete(runner: Runner, data: Mapping[str, Any]) -> str:
    alias = str(data["member"])
    member_id = _m(runner, data)
    member = runner.app.member(member_id)
    website = ({"website": f"https://{alias}.example.org"}
               if "website" in runner.policy.profile_required_fields else {})
    runner.app.update_profile(
        member_id, display_name=alias.title(), photo=f"photos/{alias}.jpg",
        description=f"{alias.title()} shares know-how on Skilltroc.", locality="Lyon",
        bio=f"About {alias.title()}.", **website,
        **({} if member.category or not member.is_professional else {"category": "company"}),
    )
    return alias


@handler("buy_stars")
def _buy(runner: Runner, data: Mapping[str, Any]) -> str:
    runner.app.buy_stars(_m(runner, data), data["stars"], data["payment"])
    return f"{data['member']} buys {data['stars']} (payment {data['payment']})"


@handler("deactivate")
def _deactivate(runner: Runner, data: Mapping[str, Any]) -> str:
    purge = runner.app.deactivate(_m(runner, data))
    return f"{data['member']} (purge on {runner.local(purge)})"


@handler("reactivate")
def _reactivate(runner: Runner, data: Mapping[str, Any]) -> str:
    runner.app.reactivate(_m(runner, data))
    return str(data["member"])


@handler("follow")
def _follow(runner: Runner, data: Mapping[str, Any]) -> str:
    runner.app.follow(_m(runner, data), _m(runner, data, "whom"))
    return f"{data['member']} follows {data['whom']}"


@handler("post_message")
def _post(runner: Runner, data: Mapping[str, Any]) -> str:
    runner.app.post_message(_m(runner, data), data["text"])
    return str(data["member"])


def _address(runner: Runner, data: Mapping[str, Any]) -> str:
    """The email the member signed up with (the one they sign in with)."""
    _m(runner, data)  # a member whose signup failed has no address
    return runner.known_emails[str(data["member"])]


@handler("sign_in")
def _sign_in(runner: Runner, data: Mapping[str, Any]) -> str:
    alias = str(data["member"])
    password = data.get("password", runner.passwords.get(alias, ""))
    runner.app.sign_in(_address(runner, data), password)
    return alias


@handler("request_password_reset")
def _request_password_reset(runner: Runner, data: Mapping[str, Any]) -> str:
    alias = str(data["member"])
    runner.app.request_password_reset(_address(runner, data))
    for notice in runner.drain():  # the host derives the link's token from its mail
        if notice.event == "PasswordResetRequested" and notice.fact("nonce") is not None:
            runner.reset_tokens[alias] = runner.app.link_token(notice)
    return f"{alias} (a reset link is mailed)"


@handler("reset_password")
def _reset_password(runner: Runner, data: Mapping[str, Any]) -> str:
    """With the token of the member's last reset request (the link of its mail)."""
    alias = str(data["member"])
    runner.app.reset_password(_address(runner, data), runner.reset_tokens.get(alias, "none"),
                              data["password"])
    runner.passwords[alias] = data["password"]
    return alias


@handler("change_password")
def _change_password(runner: Runner, data: Mapping[str, Any]) -> str:
    alias = str(data["member"])
    current = data.get("current", runner.passwords.get(alias, ""))
    runner.app.change_password(_m(runner, data), current, data["password"])
    runner.passwords[alias] = data["password"]
    return alias


@handler("invite")
def _invite(runner: Runner, data: Mapping[str, Any]) -> str:
    runner.app.invite(_m(runner, data), data["email"])
    return f"{data['member']} invites {data['email']}"


@handler("gift")
def _gift(runner: Runner, data: Mapping[str, Any]) -> str:
    gift_id = runner.app.gift(_m(runner, data), runner.email_of(data["to"]), data["stars"])
    _bind(runner, GIFT, data.get("as"), gift_id)
    return f"{data['member']} gifts {data['stars']} to {data['to']}"


@handler("accept_gift")
def _accept_gift(runner: Runner, data: Mapping[str, Any]) -> str:
    runner.app.accept_gift(_m(runner, data), runner.id_of(GIFT, data["gift"]))
    return f"{data['member']} accepts {data['gift']}"


@handler("create_workshop")
def _create_workshop(runner: Runner, data: Mapping[str, Any]) -> str:
    length = data.get("duration", {"hours": 2})
    if set(length) - {"hours", "minutes"} or not all(type(v) is int for v in length.values()):
        raise refusal("scenario_duration_invalid", got=shown(length))
    workshop_id = runner.app.create_workshop(
        _m(runner, data), title=data.get("title", data["workshop"].title()),
        description=f"The {data['workshop']} workshop.", domain=data.get("domain", "general"),
        cost=data["cost"], capacity=data["capacity"],
        duration=timedelta(hours=length.get("hours", 0), minutes=length.get("minutes", 0)),
        mode=data.get("mode", "online"), locality=data.get("locality"),
    )
    _bind(runner, WORKSHOP, data["workshop"], workshop_id)
    return f"{data['workshop']} by {data['member']}: {data['cost']} stars a seat"


@handler("delete_workshop")
def _delete_workshop(runner: Runner, data: Mapping[str, Any]) -> str:
    runner.app.delete_workshop(_m(runner, data), runner.id_of(WORKSHOP, data["workshop"]))
    return str(data["workshop"])


@handler("plan_session")
def _plan(runner: Runner, data: Mapping[str, Any]) -> str:
    session_id = runner.app.plan_session(
        _m(runner, data), runner.id_of(WORKSHOP, data["workshop"]), data["at"],
        data.get("capacity"),
    )
    _bind(runner, SESSION, data["session"], session_id)
    return f"{data['session']} of {data['workshop']} at {runner.local(data['at'])}"


@handler("move_session")
def _move(runner: Runner, data: Mapping[str, Any]) -> str:
    runner.app.move_session(_m(runner, data), runner.id_of(SESSION, data["session"]), data["at"])
    return f"{data['session']} to {runner.local(data['at'])}"


@handler("set_capacity")
def _capacity(runner: Runner, data: Mapping[str, Any]) -> str:
    runner.app.set_capacity(_m(runner, data), runner.id_of(SESSION, data["session"]),
                            data["capacity"])
    return f"{data['session']} to {data['capacity']} seats"


@handler("cancel_session")
def _cancel_session(runner: Runner, data: Mapping[str, Any]) -> str:
    runner.app.cancel_session(_m(runner, data), runner.id_of(SESSION, data["session"]))
    return str(data["session"])


@handler("request")
def _request(runner: Runner, data: Mapping[str, Any]) -> str:
    if "session" in data:
        request_id = runner.app.request(_m(runner, data), seats=data["seats"],
                                        session_id=runner.id_of(SESSION, data["session"]))
        target = str(data["session"])
    else:
        request_id = runner.app.request(_m(runner, data), seats=data["seats"],
                                        workshop_id=runner.id_of(WORKSHOP, data["workshop"]))
        target = f"a future session of {data['workshop']}"
    _bind(runner, REQUEST, data.get("as"), request_id)
    return f"{data['member']} asks {data['seats']} seats in {target}"


def _on_request(name: str) -> None:
    @handler(name)
    def run(runner: Runner, data: Mapping[str, Any]) -> str:
        method = getattr(runner.app, name)
        method(_m(runner, data), runner.id_of(REQUEST, data["request"]))
        return f"{data['member']}: {data['request']}"


for _name in ("cancel_request", "refuse", "accept", "accept_future", "leave_waitlist",
              "unregister", "cancel_transaction", "declare_absent", "confirm_attendance"):
    _on_request(_name)


@handler("join")
def _join(runner: Runner, data: Mapping[str, Any]) -> str:
    runner.app.join(_m(runner, data), runner.id_of(REQUEST, data["request"]),
                    runner.id_of(SESSION, data["session"]))
    return f"{data['member']}: {data['request']} joins {data['session']}"


def _on_session(name: str) -> None:
    @handler(name)
    def run(runner: Runner, data: Mapping[str, Any]) -> str:
        getattr(runner.app, name)(_m(runner, data), runner.id_of(SESSION, data["session"]))
        return f"{data['member']}: {data['session']}"


for _name in ("confirm_held", "confirm_not_held"):
    _on_session(_name)


@handler("see_contact")
def _see_contact(runner: Runner, data: Mapping[str, Any]) -> str:
    email = runner.app.contact_email(_m(runner, data), runner.id_of(REQUEST, data["request"]))
    return f"{data['member']} sees {email} on {data['request']}"


@handler("evaluate")
def _evaluate(runner: Runner, data: Mapping[str, Any]) -> str:
    runner.app.evaluate(
        _m(runner, data), runner.id_of(REQUEST, data["request"]),
        satisfaction=data["satisfaction"], conformity=data["conformity"],
        teaching=data["teaching"], duration=data["duration"], recommend=data["recommend"],
    )
    return f"{data['member']}: {data['request']}"


# Tutorials and ads ----------------------------------------------------------------------
_PLACEHOLDER_VISUAL = "visuals/placeholder.png"


@handler("publish_tutorial")
def _publish(runner: Runner, data: Mapping[str, Any]) -> str:
    tutorial_id = runner.app.publish_tutorial(
        _m(runner, data), title=data.get("title", str(data["tutorial"]).title()),
        domain=data["domain"], rights_attested=data.get("rights", True),
        youtube_url=data.get("url"), upload=data.get("upload"),
    )
    _bind(runner, TUTORIAL, data["tutorial"], tutorial_id)
    return f"{data['tutorial']} by {data['member']}"


@handler("delete_tutorial")
def _delete_tutorial(runner: Runner, data: Mapping[str, Any]) -> str:
    runner.app.delete_tutorial(_m(runner, data), runner.id_of(TUTORIAL, data["tutorial"]))
    return str(data["tutorial"])


@handler("view_tutorial")
def _view(runner: Runner, data: Mapping[str, Any]) -> str:
    tutorial_id = runner.id_of(TUTORIAL, data["tutorial"])
    times = data.get("times", 1)
    if type(times) is not int or times < 1:
        raise StepFailedError("times is a whole number of at least 1")
    if "viewer" in data:
        viewers = [_m(runner, data, "viewer")]
    else:
        count = data["distinct_viewers"]
        viewers = [f"visitor-{runner.anonymous + i}" for i in range(count)]
        runner.anonymous += count
    for viewer in viewers:
        for _ in range(times):
            runner.views += 1
            runner.app.record_view(tutorial_id, viewer, f"view-{runner.views}")
    who = data.get("viewer") or f"{len(viewers)} new visitors"
    return f"{data['tutorial']} watched by {who}" + (f", {times} times each" if times > 1 else "")


@handler("create_campaign")
def _create_campaign(runner: Runner, data: Mapping[str, Any]) -> str:
    campaign_id = runner.app.create_campaign(
        _m(runner, data), budget=data["stars"], visual=data.get("visual", _PLACEHOLDER_VISUAL),
        visual_rights_free=True, text=data["text"], start=data["starts"],
        domains=list(data["domains"]), link=data.get("link"),
    )
    _bind(runner, CAMPAIGN, data["campaign"], campaign_id)
    return f"{data['campaign']} by {data['member']}: {data['stars']} stars"


_CAMPAIGN_FIELDS = {"stars": "budget", "starts": "start", "domains": "domains", "text": "text",
                    "link": "link", "visual": "visual"}


@handler("edit_campaign")
def _edit_campaign(runner: Runner, data: Mapping[str, Any]) -> str:
    changes: dict[str, Any] = {
        name: (list(data[key]) if key == "domains" else data[key])
        for key, name in _CAMPAIGN_FIELDS.items() if key in data
    }
    if "visual" in changes:
        changes["visual_rights_free"] = True
    runner.app.edit_campaign(_m(runner, data), runner.id_of(CAMPAIGN, data["campaign"]),
                             **changes)
    return f"{data['campaign']}: {', '.join(sorted(k for k in data if k in _CAMPAIGN_FIELDS))}"


@handler("browse")
def _browse(runner: Runner, data: Mapping[str, Any]) -> str:
    if data["times"] < 0:
        raise StepFailedError("times is a whole number >= 0")
    shown = 0
    for _ in range(data["times"]):
        runner.page_views += 1
        if runner.app.serve(data["domain"], f"page-{runner.page_views}") is not None:
            shown += 1
    return f"{data['times']} page views in {data['domain']} ({shown} with an ad)"


def _derived(name: str, command: DerivedCommand) -> None:
    """The handler of a command read from the registry: each key's value (an alias made
    into its id) passed as the parameter it comes from."""

    @handler(name)
    def run(runner: Runner, data: Mapping[str, Any]) -> str:
        arguments = {}
        given = {k: v for k, v in data.items() if k not in ("do", "fails", "error")}
        for key, value in given.items():
            parameter, kind = command.parameters[key]
            arguments[parameter] = runner.id_of(kind, value) if kind else value
        getattr(runner.app, name)(**arguments)
        return ", ".join(f"{key} {value}" for key, value in given.items())


for _name, _command in DERIVED.items():
    _derived(_name, _command)
