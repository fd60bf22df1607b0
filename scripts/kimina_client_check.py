"""Drive `prover serve` with kimina-client 0.2.1, the public client of Kimina Lean Server.

Usage: python kimina_client_check.py URL [--key KEY]

Run by tests/serve_kimina_client.rs against a server backed by `repl-standin --sim`. Every
response is parsed by the client's own pydantic models. Exits non-zero (an AssertionError)
on the first mismatch.

Without --key the server must be open. With --key KEY the server must require KEY: the client
with KEY works, no key and a wrong key get 401.
"""

import argparse
import asyncio
import sys
import typing

import httpx
import typing_extensions

if sys.version_info < (3, 12):
    # kimina-client 0.2.1 imports typing.TypedDict, which pydantic refuses before Python 3.12
    # ("Please use typing_extensions.TypedDict"): point typing at typing_extensions' versions
    # before the client is imported. The client's code and models are unchanged.
    typing.TypedDict = typing_extensions.TypedDict
    typing.NotRequired = typing_extensions.NotRequired
from kimina_client import AsyncKiminaClient, KiminaClient  # noqa: E402
from kimina_client.models import (  # noqa: E402
    CheckResponse,
    Snippet,
    SnippetStatus,
    VerifyResponse,
)

HEADER = "import Mathlib\n\n"


def snippet(i: int) -> tuple[Snippet, SnippetStatus]:
    """Snippet i and the status Kimina's own analysis must give it."""
    name = f"t{i}"
    statement = f"theorem {name} (x : ℕ) : x + {i} = {i} + x := by"
    kind = i % 3
    if kind == 0:
        body, want = "  omega", SnippetStatus.valid
    elif kind == 1:
        body, want = "  sorry", SnippetStatus.sorry
    else:
        body, want = "  exact SIM_ERROR", SnippetStatus.lean_error
    return Snippet(id=f"s{i}", code=f"{HEADER}{statement}\n{body}"), want


def check_batch(client: KiminaClient, n: int) -> None:
    pairs = [snippet(i) for i in range(n)]
    resp = client.check(
        [s for s, _ in pairs], timeout=60, batch_size=8, max_workers=4, show_progress=False
    )
    assert isinstance(resp, CheckResponse)
    ids = [r.id for r in resp.results]
    assert sorted(ids) == sorted(s.id for s, _ in pairs), "every snippet answered once"
    want = {s.id: w for s, w in pairs}
    for r in resp.results:
        got = r.analyze().status
        assert got == want[r.id], f"{r.id}: {got} != {want[r.id]}: {r!r}"
    print(f"check: {n} snippets in batches of 8, statuses as expected")


async def async_and_verify(url: str, key: str | None) -> None:
    client = AsyncKiminaClient(api_url=url, api_key=key)
    try:
        health = await client.health()
        assert health["status"] == "ok", health
        pairs = [snippet(i) for i in range(200, 224)]
        resp = await client.check([s for s, _ in pairs], batch_size=5, show_progress=False)
        assert len(resp.results) == len(pairs)
        for r in resp.results:
            assert r.analyze().status == dict((s.id, w) for s, w in pairs)[r.id]
    finally:
        await client.close()
    # /verify (the older API; the new client has no method for it): raw HTTP, parsed by the
    # client's own VerifyResponse model
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    codes = [{"custom_id": f"v{i}", "proof": snippet(i)[0].code} for i in range(9)]
    async with httpx.AsyncClient(headers=headers, timeout=120) as http:
        for path in ["/verify", "/one_pass_verify_batch"]:
            raw = await http.post(url + path, json={"codes": codes, "timeout": 60})
            assert raw.status_code == 200, raw.text
            vr = VerifyResponse.model_validate(raw.json())
            got = [r["custom_id"] for r in vr.results]
            assert got == [c["custom_id"] for c in codes], got
            for i, r in enumerate(vr.results):
                resp = r.get("response")
                assert resp is not None and "time" in resp, r
                errors = [m for m in resp.get("messages") or [] if m["severity"] == "error"]
                assert bool(errors) == (i % 3 == 2), r
    print("async check and /verify: ok")


def auth(url: str, key: str) -> None:
    snip = [snippet(0)[0]]
    for bad in [None, key + "-wrong"]:
        headers = {"Authorization": f"Bearer {bad}"} if bad else {}
        raw = httpx.post(url + "/api/check", json={"snippets": [s.model_dump() for s in snip]},
                         headers=headers)
        assert raw.status_code == 401, (bad, raw.status_code, raw.text)
        client = KiminaClient(api_url=url, api_key=bad or "", n_retries=1)
        client.api_key = bad
        client.headers = headers
        try:
            client.api_check(snip)
        except Exception as e:  # the client retries, then raises
            print(f"client with key {bad!r}: refused ({type(e).__name__})")
        else:
            raise AssertionError(f"the client with key {bad!r} was not refused")
    ok = KiminaClient(api_url=url, api_key=key).api_check(snip)
    assert ok.results[0].analyze().status == SnippetStatus.valid
    print("auth: wrong or missing key -> 401, right key -> 200")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("url")
    ap.add_argument("--key")
    args = ap.parse_args()
    url = args.url.rstrip("/")
    client = KiminaClient(api_url=url, api_key=args.key)
    health = client.health()
    assert health["status"] == "ok", health
    print(f"health: {health}")
    check_batch(client, 120)
    asyncio.run(async_and_verify(url, args.key))
    if args.key:
        auth(url, args.key)
    else:
        # an open server ignores a key it does not need
        r = httpx.post(url + "/api/check", json={"snippets": [snippet(0)[0].model_dump()]},
                       headers={"Authorization": "Bearer anything"})
        assert r.status_code == 200, r.text
    print("kimina-client: all checks passed")


if __name__ == "__main__":
    main()
