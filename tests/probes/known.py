"""Probes that still fail, each with the reason; test_probes.py marks them xfail(strict=True)."""

KNOWN: dict[str, str] = {
}
