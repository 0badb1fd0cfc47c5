"""``ordinance roster``, ``approve``, ``decline``, ``revoke``, ``waive``, ``approvals``, ``promote``,
``rollback``, ``archive``, ``history``, ``attest`` and ``verify-attestation``."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ordinance._files import DOCUMENT_LIMIT, read_limited
from ordinance.errors import CheckFailed, InputError, VerificationError
from ordinance.model import parse_ref

from ._common import (
    Ctx,
    actor_option,
    emit_json,
    format_option,
    info,
    pass_ctx,
    require_actor,
    vkey_arg,
)

if TYPE_CHECKING:
    from ordinance.promotion import PromotionDecision
    from ordinance.signing import Ed25519Signer


def _ref(ref: str) -> tuple[str, str]:
    name, version = parse_ref(ref)
    if not name or not version:
        raise InputError(f"expected MODEL@VERSION, got {ref!r}")
    return name, version


def _now() -> datetime:
    return datetime.now(UTC)


def _dt(value: str | None) -> datetime | None:
    """A timestamp from a record's ``to_dict`` form."""
    return None if value is None else datetime.fromisoformat(value.replace("Z", "+00:00"))


def _at(value: str | None) -> str:
    """A timestamp from a record's ``to_dict`` form, printed as ``datetime.isoformat``."""
    dt = _dt(value)
    return "None" if dt is None else dt.isoformat()


def _signer(key: Path, passphrase_env: str | None) -> Ed25519Signer:
    from ordinance.signing import load_signer

    passphrase = None
    if passphrase_env:
        value = os.environ.get(passphrase_env)
        if value is None:
            raise InputError(f"environment variable {passphrase_env} is not set")
        passphrase = value.encode()
    return load_signer(key, passphrase)


_key_option = click.option(
    "--key",
    "key",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Your private signing key (from `ordinance keys generate`).",
)
_pass_option = click.option(
    "--passphrase-env", metavar="VAR", help="Environment variable holding the key passphrase."
)
_actor_option = actor_option()


def _emit_decision(d: PromotionDecision, fmt: str) -> None:
    _emit_decision_data(d.to_dict(), d.summary(), fmt)


def _emit_decision_data(d: dict[str, Any], summary: str, fmt: str) -> None:
    """Print a decision from its ``to_dict`` form (a local one, or the server's)."""
    allowed = d["outcome"] == "promoted"
    if fmt == "json":
        emit_json(d)
    else:
        click.echo(summary if allowed else f"{d['model']}@{d['version']}: {d['kind']} DENIED")
        if not allowed:
            for r in d["reasons"]:
                click.echo(f"  - {r}")
        click.echo(f"  logged at entries {d['log_indexes']} (VSA {d['evaluation_log_index']})")
    if not allowed:
        raise CheckFailed(f"{d['model']}@{d['version']} may not move to {d['to_stage']}")


def _remote_approve(
    obj: Ctx,
    model: str,
    version: str,
    stage: str,
    signer: Ed25519Signer,
    comment: str,
    expires_in: float | None,
) -> dict[str, Any]:
    """Sign the approval here (the key never leaves this machine); the server verifies the
    signer, its roles and separation of duties, and records it."""
    from ordinance.approvals import sign_approval

    remote = obj.remote
    assert remote is not None
    now = _now()
    v = remote.version(model, version)
    member = _member_of(remote.roster(), signer)
    approver = member if member is not None else signer.name
    env = sign_approval(
        v,
        stage,
        signer,
        approver,
        now=now,
        policies=remote.config()["policy_digests"].get(stage, {}),
        expires_at=None if expires_in is None else now + timedelta(days=expires_in),
        comment=comment,
    )
    return remote.submit("approvals", env.to_dict(), model=model, version=version, stage=stage)


def _remote_decline(
    obj: Ctx, model: str, version: str, stage: str, signer: Any, reason: str
) -> dict[str, Any]:
    """Sign the decline here (the key never leaves this machine); the server checks it like
    an approval and records it."""
    from ordinance.approvals._base import _sign_statement
    from ordinance.approvals.decline import decline_statement

    remote = obj.remote
    assert remote is not None
    v = remote.version(model, version)
    member = _member_of(remote.roster(), signer)
    stmt = decline_statement(
        v,
        stage,
        member if member is not None else signer.name,
        signed_at=_now(),
        policies=remote.config()["policy_digests"].get(stage, {}),
        reason=reason,
    )
    env = _sign_statement(stmt, signer)
    return remote.submit("declines", env.to_dict(), model=model, version=version, stage=stage)


def _remote_revoke(
    obj: Ctx,
    model: str,
    version: str,
    stage: str | None,
    digest: str | None,
    signer: Any,
    reason: str,
    fmt: str,
) -> None:
    """Revoke through the server: the revocations are signed here; the server checks the
    revoker (the approver, or a revoker role) and records them."""
    from ordinance.approvals import revocation_statement
    from ordinance.approvals._base import _sign_statement

    remote = obj.remote
    assert remote is not None
    member = _member_of(remote.roster(), signer)
    if member is None:
        raise InputError("your key is not in the server's roster (ordinance roster show)")
    rows = remote.approvals(model, version)
    if digest:
        picked = [r for r in rows if str(r["digest"]).startswith(digest.lower())]
        if len(picked) != 1:
            raise InputError(
                f"{len(picked) or 'no'} approvals or waivers of {model}@{version} match "
                f"digest {digest!r} (see `ordinance approvals {model}@{version}`)"
            )
    elif stage:
        picked = [
            r
            for r in rows
            if r["kind"] == "approval"
            and r["stage"] == stage
            and r["approver"] == member
            and r["revoked"] is None
        ]
        if not picked:
            raise InputError(f"no live approval of {model}@{version} for {stage} by {member}")
    else:
        raise InputError("give --stage (your approvals for it) or --digest")
    v = remote.version(model, version)
    now = _now()
    indexes = []
    for r in picked:
        stmt = revocation_statement(
            model=model,
            version=version,
            identity=v.identity.sha256,
            digest=str(r["digest"]),
            kind=str(r["kind"]),
            revoker=member,
            reason=reason,
            now=now,
        )
        env = _sign_statement(stmt, signer)
        got = remote.submit("revocations", env.to_dict(), model=model, version=version)
        indexes.append(int(got["log_index"]))
    digests = [str(r["digest"]) for r in picked]
    if fmt == "json":
        emit_json({"revoked": digests, "log_indexes": indexes})
    elif len(digests) == 1 and digest:
        click.echo(f"revoked {digests[0][:12]}…; log entry {indexes[0]}")
    else:
        click.echo(f"revoked {len(digests)} approval(s); log entries {indexes}")


def _remote_roster_apply(obj: Ctx, new: Any, signer: Any) -> dict[str, Any]:
    """Sign the roster change here with a roster-admin key; the server checks the key, that
    the change follows the roster in force, and records it."""
    from ordinance.approvals import Roster, roster_change_statement
    from ordinance.approvals._base import _sign_statement

    remote = obj.remote
    assert remote is not None
    data = dict(remote.get_json("/v1/roster"))
    digest = data.pop("digest", None)
    old = Roster.from_dict(data)
    member = _member_of(old, signer)
    stmt = roster_change_statement(
        old,
        digest if old.members else None,
        new,
        actor=member if member is not None else signer.name,
        now=_now(),
    )
    env = _sign_statement(stmt, signer)
    result: dict[str, Any] = remote.post_json(
        "/v1/roster-changes", {"envelope": env.to_dict()}, idempotent=False
    )
    return result


def _member_of(roster: Any, signer: Any) -> str | None:
    for m in roster.members:
        for k in m.keys:
            if k.public_key == signer.public_key and k.name == signer.name:
                return str(m.id)
    return None


def register(cli: click.Group) -> None:
    """Add the approvals and promotion commands to ``cli``."""

    # ----------------------------------------------------------------- roster
    @cli.group("roster")
    def roster() -> None:
        """The roster: identities, their keys and roles (every change is logged)."""

    @roster.command("apply")
    @click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
    @_actor_option
    @click.option(
        "--key",
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        help="A roster-admin key (required once the roster names a roster-admin).",
    )
    @_pass_option
    @format_option("text", "json")
    @pass_ctx
    def roster_apply(
        obj: Ctx,
        file: Path,
        actor: str | None,
        key: Path | None,
        passphrase_env: str | None,
        fmt: str,
    ) -> None:
        """Make FILE (kind: Roster) the roster in force; logs its digest and the diff."""
        from ordinance.approvals import apply_roster, load_roster

        new = load_roster(file)
        if obj.remote is not None:
            if key is None:
                raise InputError(
                    "roster apply in server mode needs --key, a roster-admin key (the first "
                    "roster is applied on the server's workspace)"
                )
            change = _remote_roster_apply(obj, new, _signer(key, passphrase_env))
        else:
            signer = _signer(key, passphrase_env) if key else None
            change = apply_roster(
                obj.workspace(),
                new,
                actor=require_actor(actor, "roster apply"),
                now=_now(),
                signer=signer,
            ).to_dict()
        if fmt == "json":
            emit_json(change)
            return
        if not change["changed"]:
            click.echo(f"roster unchanged ({change['digest'][:12]}…)")
            return
        d = change["diff"]
        click.echo(f"roster {change['digest'][:12]}… applied (log entry {change['log_index']})")
        for m in d["added"]:
            click.echo(f"  + {m['id']} ({', '.join(m['roles']) or 'no roles'})")
        for m in d["removed"]:
            click.echo(f"  - {m}")
        for mid, c in d["changed"].items():
            parts = [f"+{r}" for r in c["roles_added"]] + [f"-{r}" for r in c["roles_removed"]]
            if c["keys_added"] or c["keys_removed"]:
                parts.append(f"keys +{len(c['keys_added'])}/-{len(c['keys_removed'])}")
            click.echo(f"  ~ {mid}: {' '.join(parts)}")

    @roster.command("show")
    @click.option("--at", "at", metavar="DATE", help="The roster in force at this date/time.")
    @format_option("text", "json")
    @pass_ctx
    def roster_show(obj: Ctx, at: str | None, fmt: str) -> None:
        """Show the roster in force now (or at --at)."""
        from ordinance.approvals import Roster, parse_when, roster_at

        if obj.remote is not None:
            data = obj.remote.get_json("/v1/roster", at=at)
            data.pop("digest", None)
            r = Roster.from_dict(data)
        else:
            r = roster_at(obj.workspace(), parse_when(at) if at else _now())
        if fmt == "json":
            emit_json({"digest": r.digest, **r.to_dict()})
            return
        click.echo(f"roster {r.digest[:12]}… ({len(r.members)} members)")
        for m in sorted(r.members, key=lambda m: m.id):
            keys = ", ".join(k.key_id for k in m.keys)
            click.echo(f"  {m.id}: {', '.join(sorted(m.roles)) or '-'}  [keys {keys}]")

    # ----------------------------------------------------------------- approvals
    @cli.command("approve")
    @click.argument("ref", metavar="MODEL@VERSION")
    @click.option("--stage", required=True, help="The stage you approve the version for.")
    @_key_option
    @_pass_option
    @click.option("--comment", default="", help="Recorded in the signed approval.")
    @click.option(
        "--expires-in", type=click.FloatRange(min=0, max=36_500, min_open=True), metavar="DAYS"
    )
    @click.option("--revoke", "do_revoke", is_flag=True, help="Revoke your approval instead.")
    @click.option("--reason", default="", help="Why (with --revoke).")
    @format_option("text", "json")
    @pass_ctx
    def approve_cmd(
        obj: Ctx,
        ref: str,
        stage: str,
        key: Path,
        passphrase_env: str | None,
        comment: str,
        expires_in: float | None,
        do_revoke: bool,
        reason: str,
        fmt: str,
    ) -> None:
        """Sign an approval of MODEL@VERSION for --stage with your key; it is logged.

        It counts only if your key holds a required role per the roster, and only for this
        version's identity digest and this stage. Exit 1 if refused (the refusal is logged).
        """
        from ordinance.approvals import approve

        model, version = _ref(ref)
        signer = _signer(key, passphrase_env)
        if obj.remote is not None:
            if do_revoke:
                obj.local_only("approve --revoke")
            data = _remote_approve(obj, model, version, stage, signer, comment, expires_in)
        else:
            ws = obj.workspace()
            if do_revoke:
                _revoke_own(ws, model, version, stage, signer, reason, fmt)
                return
            data = approve(
                ws,
                model,
                version,
                stage,
                signer,
                comment,
                expires_in=None if expires_in is None else timedelta(days=expires_in),
                now=_now(),
            ).to_dict()
        if fmt == "json":
            emit_json(data)
        else:
            click.echo(
                f"approved {model}@{version} for {stage} as {data['approver']} "
                f"({', '.join(sorted(data['roles']))}); log entry {data['log_index']}, "
                f"sha256:{data['digest']}"
            )

    @cli.command("decline")
    @click.argument("ref", metavar="MODEL@VERSION")
    @click.option("--stage", required=True, help="The stage you decline the version for.")
    @click.option(
        "--reason", required=True, help="Why (at least 10 characters; recorded and signed)."
    )
    @_key_option
    @_pass_option
    @format_option("text", "json")
    @pass_ctx
    def decline_cmd(
        obj: Ctx,
        ref: str,
        stage: str,
        reason: str,
        key: Path,
        passphrase_env: str | None,
        fmt: str,
    ) -> None:
        """Sign a decline (a "no", with --reason) of MODEL@VERSION for --stage; it is logged.

        Checked like an approval (your roster key and role, not the author) and shown next to
        the approvals, but it never counts as one. If you approved this version for --stage,
        revoke that first (`approve --revoke`). The web console's "Decline" signs the same
        statement in the browser. Exit 1 if refused (the refusal is logged).
        """
        from ordinance.approvals import decline

        model, version = _ref(ref)
        signer = _signer(key, passphrase_env)
        if obj.remote is not None:
            data = _remote_decline(obj, model, version, stage, signer, reason)
        else:
            rec = decline(obj.workspace(), model, version, stage, signer, reason, now=_now())
            data = rec.to_dict()
        if fmt == "json":
            emit_json(data)
        else:
            click.echo(
                f"declined {model}@{version} for {stage} as {data['approver']}; log entry "
                f"{data['log_index']}, sha256:{data['digest']}"
            )

    def _revoke_own(
        ws: Any, model: str, version: str, stage: str, signer: Any, reason: str, fmt: str
    ) -> None:
        from ordinance.approvals import find_own, revoke

        digests = find_own(ws, model, version, stage, signer)
        if not digests:
            raise InputError(f"no approval of {model}@{version} for {stage} signed by this key")
        now = _now()
        indexes = [revoke(ws, d, signer, reason=reason, now=now) for d in digests]
        if fmt == "json":
            emit_json({"revoked": digests, "log_indexes": indexes})
        else:
            click.echo(f"revoked {len(digests)} approval(s); log entries {indexes}")

    @cli.command("revoke")
    @click.argument("ref", metavar="MODEL@VERSION")
    @click.option("--stage", help="Revoke your approvals for this stage.")
    @click.option("--digest", help="Revoke the approval or waiver with this SHA-256.")
    @_key_option
    @_pass_option
    @click.option("--reason", default="", help="Why (recorded in the log).")
    @format_option("text", "json")
    @pass_ctx
    def revoke_cmd(
        obj: Ctx,
        ref: str,
        stage: str | None,
        digest: str | None,
        key: Path,
        passphrase_env: str | None,
        reason: str,
        fmt: str,
    ) -> None:
        """Revoke an approval or waiver (yours, or any as a risk officer); it is logged."""
        from ordinance.approvals import revoke

        model, version = _ref(ref)
        signer = _signer(key, passphrase_env)
        if obj.remote is not None:
            _remote_revoke(obj, model, version, stage, digest, signer, reason, fmt)
            return
        ws = obj.workspace()
        if digest:
            index = revoke(ws, digest, signer, reason=reason, now=_now())
            if fmt == "json":
                emit_json({"revoked": [digest], "log_indexes": [index]})
            else:
                click.echo(f"revoked {digest[:12]}…; log entry {index}")
            return
        if not stage:
            raise InputError("give --stage (your approvals for it) or --digest")
        _revoke_own(ws, model, version, stage, signer, reason, fmt)

    @cli.command("waive")
    @click.argument("ref", metavar="MODEL@VERSION")
    @click.option("--rule", required=True, help="The rule id (or PACK/RULE) to waive.")
    @click.option("--justification", required=True, help="Why (at least 10 characters).")
    @click.option("--expires", required=True, metavar="DATE", help="Valid through this date.")
    @click.option("--stage", "stages", multiple=True, help="Only for these target stages.")
    @click.option("--id", "waiver_id", help="A waiver id (default: derived).")
    @_key_option
    @_pass_option
    @format_option("text", "json")
    @pass_ctx
    def waive_cmd(
        obj: Ctx,
        ref: str,
        rule: str,
        justification: str,
        expires: str,
        stages: tuple[str, ...],
        waiver_id: str | None,
        key: Path,
        passphrase_env: str | None,
        fmt: str,
    ) -> None:
        """Sign a waiver of one rule for exactly MODEL@VERSION; it is logged and expires."""
        from ordinance.approvals import parse_when, waive

        model, version = _ref(ref)
        signer = _signer(key, passphrase_env)
        if obj.remote is not None:
            from ordinance.approvals import sign_waiver

            remote = obj.remote
            v = remote.version(model, version)
            env = sign_waiver(
                v,
                signer,
                _member_of(remote.roster(), signer) or signer.name,
                rule=rule,
                justification=justification,
                expires_at=parse_when(expires),
                now=_now(),
                stages=stages or None,
                waiver_id=waiver_id,
            )
            data = remote.submit("waivers", env.to_dict(), model=model, version=version)
        else:
            data = waive(
                obj.workspace(),
                model,
                version,
                rule,
                justification,
                parse_when(expires),
                signer,
                stages=stages or None,
                waiver_id=waiver_id,
                now=_now(),
            ).to_dict()
        if fmt == "json":
            emit_json(data)
        else:
            click.echo(
                f"waived {rule} for {model}@{version} until {_dt(data['expires_at'])}; "
                f"log entry {data['log_index']}, sha256:{data['digest']}"
            )

    @cli.command("approvals")
    @click.argument("ref", metavar="MODEL[@VERSION]")
    @format_option("text", "json")
    @pass_ctx
    def approvals_cmd(obj: Ctx, ref: str, fmt: str) -> None:
        """List recorded approvals, waivers (with revocations) and declines (with reasons)."""
        from ordinance.approvals import list_signed

        model, version = parse_ref(ref)
        if obj.remote is not None:
            rows = obj.remote.approvals(model, version)
        else:
            rows = list_signed(obj.workspace(), model, version, declines=True)
        if fmt == "json":
            emit_json(rows)
            return
        for r in rows:
            what = r["stage"] if r["kind"] in ("approval", "decline") else f"waive {r['rule']}"
            state = " REVOKED" if r["revoked"] else ""
            click.echo(
                f"{r['model']}@{r['version']} {r['kind']} {what} by {r['approver']} "
                f"at {r['signed_at']} (entry {r['log_index']}){state}  {r['digest']}"
            )
            if r.get("reason"):
                click.echo(f"    reason: {r['reason']}")

    # ----------------------------------------------------------------- promotions
    @cli.command("promote")
    @click.argument("ref", metavar="MODEL@VERSION")
    @click.option("--to", "to_stage", required=True, help="The target stage.")
    @click.option("--demote-to", help="Where the old holder of an exclusive stage goes.")
    @_actor_option
    @format_option("text", "json")
    @pass_ctx
    def promote_cmd(
        obj: Ctx, ref: str, to_stage: str, demote_to: str | None, actor: str | None, fmt: str
    ) -> None:
        """Promote MODEL@VERSION to --to if its policies and approvals allow; exit 1 if
        denied. Allowed and denied attempts are both logged."""
        from ordinance.promotion import promote

        model, version = _ref(ref)
        if obj.remote is not None:
            # the server records the caller's identity as the actor
            r = obj.remote.promote(model, version, to_stage, demote_to)
            _emit_decision_data(r["decision"], r["summary"], fmt)
            return
        d = promote(
            obj.workspace().promotion(),
            model,
            version,
            to_stage,
            require_actor(actor, "promote"),
            _now(),
            demote_to=demote_to,
        )
        _emit_decision(d, fmt)

    @cli.command("rollback")
    @click.argument("model")
    @click.option("--to", "to_version", required=True, help="A version that was in production.")
    @_actor_option
    @format_option("text", "json")
    @pass_ctx
    def rollback_cmd(obj: Ctx, model: str, to_version: str, actor: str | None, fmt: str) -> None:
        """Return a previous production version to production (still policy checked)."""
        from ordinance.promotion import rollback

        if obj.remote is not None:  # the server records the caller's identity as the actor
            r = obj.remote.rollback(model, to_version)
            _emit_decision_data(r["decision"], r["summary"], fmt)
            return
        parts = obj.workspace().promotion()
        d = rollback(parts, model, to_version, require_actor(actor, "rollback"), _now())
        _emit_decision(d, fmt)

    @cli.command("archive")
    @click.argument("ref", metavar="MODEL@VERSION")
    @_actor_option
    @format_option("text", "json")
    @pass_ctx
    def archive_cmd(obj: Ctx, ref: str, actor: str | None, fmt: str) -> None:
        """Move MODEL@VERSION to the archive stage (logged)."""
        from ordinance.promotion import archive

        model, version = _ref(ref)
        if obj.remote is not None:  # the server records the caller's identity as the actor
            r = obj.remote.archive(model, version)
            _emit_decision_data(r["decision"], r["summary"], fmt)
            return
        parts = obj.workspace().promotion()
        d = archive(parts, model, version, require_actor(actor, "archive"), _now())
        _emit_decision(d, fmt)

    @cli.command("history")
    @click.argument("model")
    @click.option("--at", "at", metavar="DATE", help="State at this date (end of day) or time.")
    @click.option("--proofs", is_flag=True, help="Include a tlog-proof per logged event.")
    @format_option("text", "json")
    @pass_ctx
    def history_cmd(obj: Ctx, model: str, at: str | None, proofs: bool, fmt: str) -> None:
        """Who moved which version where, when, under which policy and approvals.

        With --at, also which version held each stage then."""
        from ordinance.approvals import parse_when
        from ordinance.stage_history import history

        if obj.remote is not None:
            parse_when(at) if at else None  # the same input check as a local run
            data = obj.remote.history(model, at, proofs)
        else:
            data = history(
                obj.workspace(), model, at=parse_when(at) if at else None, proofs=proofs
            ).to_dict()
        if fmt == "json":
            emit_json(data)
            return
        for e in data["events"]:
            approvers = ", ".join(a["approver"] for a in e.get("approvals") or [])
            line = (
                f"{_at(e['at'])}  {e['version']:<10} {e['kind']:<8} "
                f"{e['from_stage'] or '-'} → {e['to_stage']}  by {e['actor']}  "
                f"entry {e['log_index']}"
            )
            if approvers:
                line += f"  approvals: {approvers}"
            click.echo(line)
            if e["kind"] == "denied":
                click.echo(f"    {e['reason']}")
            if e.get("proof"):
                click.echo("    " + e["proof"].replace("\n", "\n    ").rstrip())
        if data.get("stages_at") is not None and data.get("at") is not None:
            click.echo(f"at {_at(data['at'])}:")
            for stage, versions in data["stages_at"].items():
                click.echo(f"  {stage}: {', '.join(versions) or '-'}")

    # ----------------------------------------------------------------- attestations
    @cli.command("attest")
    @click.argument("ref", metavar="MODEL@VERSION")
    @click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Output file.")
    @format_option("text", "json")
    @pass_ctx
    def attest_cmd(obj: Ctx, ref: str, out: Path | None, fmt: str) -> None:
        """Export the latest promotion decision as a DSSE-signed SLSA VSA."""
        from ordinance._files import atomic_write_bytes
        from ordinance.attest import attestation

        model, version = _ref(ref)
        if obj.remote is not None:
            data = obj.remote.attestation(model, version)
        else:
            data = attestation(obj.workspace(), model, version)
        if out is not None:
            atomic_write_bytes(out, data + b"\n")
            info(f"wrote {out}")
        if fmt == "json":
            import json

            emit_json(
                {
                    "model": model,
                    "version": version,
                    "out": None if out is None else str(out),
                    "envelope": json.loads(data),
                }
            )
        elif out is None:
            click.echo(data.decode())

    @cli.command("verify-attestation")
    @click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
    @click.option("--vkey", required=True, help="The log's vkey string, or a .vkey file.")
    @click.option("--model-digest", metavar="SHA256", help="The model identity you deploy.")
    @click.option("--expect-level", "levels", multiple=True, help="A required verified level.")
    @click.option("--resource-uri", help="The expected resourceUri, e.g. models:/name/1.0.")
    @format_option("text", "json")
    def verify_attestation_cmd(
        file: Path,
        vkey: str,
        model_digest: str | None,
        levels: tuple[str, ...],
        resource_uri: str | None,
        fmt: str,
    ) -> None:
        """Check a VSA offline: signature, subject, type, verifier, resource, PASSED, levels.
        Exit 1 on any failure."""
        from ordinance.attest import verify_attestation

        report = verify_attestation(
            read_limited(file, DOCUMENT_LIMIT).strip(),
            vkey_arg(vkey),
            model_digest=model_digest,
            expect_levels=levels,
            resource_uri=resource_uri,
        )
        if fmt == "json":
            emit_json(report.to_dict())
        else:
            for c in report.checks:
                mark = {True: "ok  ", False: "FAIL", None: "--  "}[c.ok]
                click.echo(f"{mark} {c.name:<14} {c.detail}")
        if not report.ok:
            bad = report.failure
            raise VerificationError(
                f"attestation rejected: {bad.name}: {bad.detail}" if bad else "no statement"
            )
