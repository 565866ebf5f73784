"""The ID-to-account mapper: link, update, unlink, resolve; one default per person; a person manages their own."""

from __future__ import annotations

import asyncio

from tests.payments.payments_helpers import PROGRAMME, SUBJECT, events, table_rows


async def _link(api, fsp: str, address: str, sub: str, **extra):  # type: ignore[no-untyped-def]
    body = {"fsp_id": fsp, "address": address, "person_ref": sub, **extra}
    return await api.fsp(fsp, "POST", "/v1/mapper/links", json=body)


async def _resolve(api, sub: str, ref_type: str = "sub"):  # type: ignore[no-untyped-def]
    return await api.call("GET", f"/v1/mapper/resolve?ref={sub}&ref_type={ref_type}", roles=PROGRAMME)


async def test_an_fsp_links_its_customer_and_a_programme_resolves_them(api, payments):
    account = await api.open_account("bank-a", owner="sub-amara", address="1001")
    created = await _link(api, "bank-a", "1001", "sub-amara")
    assert created.status_code == 201, created.text
    assert created.json()["default"] is True  # the first link is the default
    resolved = await _resolve(api, "sub-amara")
    assert resolved.status_code == 200
    assert resolved.json() == {"ref_type": "sub", "person_ref": "sub-amara", "fsp_id": "bank-a", "address": "1001",
                               "address_kind": "customer", "account_id": account["id"]}  # fmt: skip
    [event] = await events(payments, "payments.link.created")
    assert event["payload"]["link_id"] == created.json()["id"]


async def test_several_links_one_default_and_the_default_moves(api):
    await api.open_account("bank-a", owner="sub-kofi", address="2001")
    await api.open_account("momo", owner="sub-kofi", kind="wallet", address="+000555201")
    first = (await _link(api, "bank-a", "2001", "sub-kofi")).json()
    second = await _link(api, "momo", "+000555201", "sub-kofi")
    assert second.status_code == 201 and second.json()["default"] is False
    assert (await _resolve(api, "sub-kofi")).json()["fsp_id"] == "bank-a"
    moved = await api.fsp("momo", "PATCH", f"/v1/mapper/links/{second.json()['id']}", json={"default": True})
    assert moved.status_code == 200 and moved.json()["default"] is True
    resolved = (await _resolve(api, "sub-kofi")).json()
    assert (resolved["fsp_id"], resolved["address_kind"]) == ("momo", "wallet")
    # Removing the default hands it to the remaining link: a person with a link always resolves.
    removed = await api.fsp("momo", "DELETE", f"/v1/mapper/links/{second.json()['id']}")
    assert removed.status_code == 204
    assert (await _resolve(api, "sub-kofi")).json()["address"] == "2001"
    rows = await table_rows(api.svc, "links")
    assert [(r["id"], r["is_default"]) for r in rows] == [(first["id"], True)]


async def test_unresolvable_and_batch_resolution_report_every_reference(api):
    await api.open_account("bank-b", owner="sub-ade", address="3001")
    await _link(api, "bank-b", "3001", "sub-ade")
    assert (await _resolve(api, "sub-nobody")).status_code == 404
    assert (await _resolve(api, "sub-nobody")).json()["code"] == "payments.unresolvable"
    many = await api.call("POST", "/v1/mapper/resolve", roles=PROGRAMME,
                          json={"person_refs": ["sub-ade", "sub-nobody", "sub-ade"]})  # fmt: skip
    assert many.status_code == 200
    assert [r["person_ref"] for r in many.json()["resolved"]] == ["sub-ade"]
    assert many.json()["unresolved"] == ["sub-nobody"]


async def test_a_payments_sector_token_resolves_apart_from_subs(api):
    await api.open_account("bank-a", address="4001")
    created = await _link(api, "bank-a", "4001", "ptk-77", ref_type="token")
    assert created.status_code == 201, created.text
    assert (await _resolve(api, "ptk-77", "token")).json()["address"] == "4001"
    assert (await _resolve(api, "ptk-77", "sub")).status_code == 404


async def test_an_fsp_cannot_link_another_fsps_account_nor_someone_elses(api):
    await api.open_account("bank-a", owner="sub-amara", address="5001")
    foreign = await _link(api, "bank-a", "5001", "sub-amara")
    assert foreign.status_code == 201
    denied = await api.fsp("bank-b", "POST", "/v1/mapper/links",
                           json={"fsp_id": "bank-a", "address": "5001", "person_ref": "sub-amara"})  # fmt: skip
    assert denied.status_code == 403 and denied.json()["rule_id"] == "SG-SEC-1"
    not_theirs = await _link(api, "bank-a", "5001", "sub-kofi")
    assert not_theirs.status_code == 409 and not_theirs.json()["code"] == "payments.not_account_holder"
    again = await _link(api, "bank-a", "5001", "sub-amara")
    assert again.status_code == 409 and again.json()["code"] == "payments.link_exists"


async def test_a_person_sees_and_changes_their_own_links(api):
    await api.open_account("bank-a", owner="sub-zola", address="6001")
    await api.open_account("momo", owner="sub-zola", kind="wallet", address="+000555601")
    await api.open_account("bank-b", owner="sub-other", address="6002")

    async def me(method: str, path: str = "", **kwargs):  # type: ignore[no-untyped-def]
        return await api.call(method, f"/v1/me/payment-links{path}", roles=SUBJECT, subject_ref="sub-zola", **kwargs)

    assert (await me("GET")).json() == {"items": [], "next_cursor": None}
    bank = await me("POST", json={"fsp_id": "bank-a", "address": "6001"})
    wallet = await me("POST", json={"fsp_id": "momo", "address": "+000555601", "default": True})
    assert bank.status_code == wallet.status_code == 201
    listed = (await me("GET")).json()["items"]
    assert [(link["address"], link["default"]) for link in listed] == [("6001", False), ("+000555601", True)]
    first = (await me("GET", "?limit=1")).json()
    rest = (await me("GET", f"?limit=1&cursor={first['next_cursor']}")).json()
    assert [link["address"] for link in first["items"] + rest["items"]] == ["6001", "+000555601"]
    assert rest["next_cursor"] is None
    # Someone else's account cannot be linked as mine: the answer does not tell whether it exists.
    other = await me("POST", json={"fsp_id": "bank-b", "address": "6002"})
    assert other.status_code == 404
    back = await me("PATCH", f"/{bank.json()['id']}", json={"default": True})
    assert back.status_code == 200 and back.json()["default"] is True
    assert (await _resolve(api, "sub-zola")).json()["address"] == "6001"
    # Another person cannot see or touch my links.
    theirs = await api.call("DELETE", f"/v1/me/payment-links/{bank.json()['id']}", roles=SUBJECT,
                            subject_ref="sub-other")  # fmt: skip
    assert theirs.status_code == 404
    assert (await me("DELETE", f"/{bank.json()['id']}")).status_code == 204
    assert [link["address"] for link in (await me("GET")).json()["items"]] == ["+000555601"]
    assert (await _resolve(api, "sub-zola")).json()["address"] == "+000555601"


async def test_concurrent_default_changes_leave_exactly_one_default(api):
    addresses = [f"70{n:02d}" for n in range(8)]
    for address in addresses:
        await api.open_account("bank-a", owner="sub-race", address=address)
    ids = [(await _link(api, "bank-a", address, "sub-race")).json()["id"] for address in addresses]
    statuses = await asyncio.gather(
        *(api.fsp("bank-a", "PATCH", f"/v1/mapper/links/{link_id}", json={"default": True}) for link_id in ids * 4)
    )
    assert {response.status_code for response in statuses} == {200}
    rows = await table_rows(api.svc, "links")
    assert sum(1 for row in rows if row["is_default"]) == 1
