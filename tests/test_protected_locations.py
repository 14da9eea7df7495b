"""Nothing inferable about protected people and units (issue 13 item 3).

The probe's attack, repeated through the CLI: an attacker with several requests from known
home positions reads the printed distances and trilaterates. Against an ordinary unit (the
control) the attack locates it within a few hundred metres, which shows the attack works;
against a protected unit, and against a protected person's hidden home, every position that
fits what was printed spans kilometres.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from test_matching_support import load_register, request, unit, write_request

R_KM = 6371.0088
# Where the protected unit / the protected person's home really is (not a grid-cell centre).
TRUE = (57.7012, 12.0031)
# Known positions the attacker uses: homes of their own requests, or public units.
ANCHORS = [(57.95, 11.95), (57.55, 12.35), (57.60, 11.70), (57.85, 12.40), (57.45, 11.95), (57.75, 11.60)]


def haversine(lat1, lon1, lat2, lon2):
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dp, dl = p2 - p1, np.radians(lon2 - lon1)
    a = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return 2 * R_KM * np.arcsin(np.minimum(1.0, np.sqrt(a)))


def trilaterate(observations: list[tuple[tuple[float, float], object]]) -> tuple[tuple[float, float], float]:
    """The attacker's best position and the radius of every position that fits the printed
    distances (exact numbers ±0.05 km, or bands 'lo–hi'), over a 0.002° grid around the anchors."""
    lats = np.arange(57.2, 58.2, 0.002)
    lons = np.arange(11.3, 12.8, 0.002)
    glat, glon = np.meshgrid(lats, lons, indexing="ij")
    fits = np.ones(glat.shape, dtype=bool)
    misfit = np.zeros(glat.shape)
    for (alat, alon), shown in observations:
        d = haversine(glat, glon, alat, alon)
        if isinstance(shown, str):
            lo, hi = (float(x) for x in shown.split("–"))
        else:
            lo, hi = shown - 0.05, shown + 0.05
        fits &= (d >= lo - 1e-9) & (d <= hi + 1e-9)
        misfit += (d - (lo + hi) / 2) ** 2
    if not fits.any():  # nothing fits exactly: the least-squares point is the attacker's guess
        fits = misfit <= misfit.min()
    best = np.unravel_index(np.where(fits, misfit, np.inf).argmin(), misfit.shape)
    guess = (float(glat[best]), float(glon[best]))
    radius = float(haversine(glat[fits], glon[fits], guess[0], guess[1]).max())
    return guess, radius


def error_km(guess: tuple[float, float]) -> float:
    return float(haversine(guess[0], guess[1], TRUE[0], TRUE[1]))


def _match(run, tmp_path, req: dict) -> dict:
    result = run("match", str(write_request(tmp_path, req)), "--by", "angripare", "--json", "--limit", "10")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _entry(decision: dict, unit_id: str) -> dict:
    return next(r for r in decision["recommendations"] + decision["below_cut"] if r["unit_id"] == unit_id)


def test_trilateration_of_a_protected_unit_fails(run, engine, tmp_path):
    load_register(run, tmp_path, unit("U-SKYDD", loc=TRUE, protected=True),
                  unit("U-OPPEN", loc=TRUE, protected=False))
    seen: dict[str, list] = {"U-SKYDD": [], "U-OPPEN": []}
    for i, home in enumerate(ANCHORS):
        req = request(f"R-{i}", home_location={"lat": home[0], "lon": home[1]}, max_distance_km=500)
        decision = _match(run, tmp_path, req)
        for uid in seen:
            shown = _entry(decision, uid)["distance_km"]
            explained = json.loads(run("request", "show", f"R-{i}", "--explain", uid, "--json").stdout)
            assert explained["keys"]["distance_km"] == shown
            assert isinstance(shown, str) == (uid == "U-SKYDD")
            seen[uid].append((home, shown))
        stored = run("request", "show", f"R-{i}", "--json").stdout
        assert "57.7012" not in stored and "12.0031" not in stored
    control, control_radius = trilaterate(seen["U-OPPEN"])
    guess, radius = trilaterate(seen["U-SKYDD"])
    print(f"\nprotected unit: exact distances locate the ordinary unit within {error_km(control):.2f} km "
          f"(fit radius {control_radius:.2f} km); printed bands give a guess {error_km(guess):.1f} km off, "
          f"and positions up to {radius:.1f} km apart fit them")
    assert error_km(control) < 0.3  # the attack works on what is not protected
    assert error_km(guess) > 2.0 and radius > 5.0


def test_trilateration_of_a_protected_home_fails(run, engine, tmp_path):
    load_register(run, tmp_path, *[unit(f"U-{i}", loc=a) for i, a in enumerate(ANCHORS)])
    home = {"lat": TRUE[0], "lon": TRUE[1]}
    observations: dict[bool, list] = {True: [], False: []}
    for protected in (True, False):
        req = request("R-SKYDD" if protected else "R-OPPEN", home_location=home, max_distance_km=500)
        req["person"]["protected_identity"] = protected
        decision = _match(run, tmp_path, req)
        shown = json.loads(run("request", "show", req["request_id"], "--json").stdout)
        for i, anchor in enumerate(ANCHORS):
            observations[protected].append((anchor, _entry(decision, f"U-{i}")["distance_km"]))
        if protected:
            assert all(isinstance(d, str) for _, d in observations[True])
            assert shown["request"]["home_location"] is None
            for d in shown["decisions"]:
                for r in d["recommendations"] + d["below_cut"]:
                    assert isinstance(r["distance_km"], str) and isinstance(r["keys"]["distance_km"], str)
    control, _ = trilaterate(observations[False])
    guess, radius = trilaterate(observations[True])
    print(f"\nprotected home: exact distances locate an ordinary home within {error_km(control):.2f} km; "
          f"printed bands give a guess {error_km(guess):.1f} km off, positions up to {radius:.1f} km apart fit")
    assert error_km(control) < 0.3
    assert error_km(guess) > 2.0 and radius > 5.0


def test_distance_rule_messages_and_tables_show_bands_for_a_protected_unit(run, tmp_path):
    load_register(run, tmp_path, unit("U-SKYDD", loc=TRUE, protected=True))
    far = request("R-FAR", home_location={"lat": 59.33, "lon": 18.07}, max_distance_km=100)  # Stockholm
    decision = _match(run, tmp_path, far)
    reason = next(r for e in decision["excluded"] for r in e["reasons"] if r["code"] == "DISTANCE")
    assert isinstance(reason["values"]["distance_km"], str)
    assert f"Avståndet {reason['values']['distance_km']} km" in reason["message"]
    near = request("R-NEAR", home_location={"lat": 57.75, "lon": 12.0}, max_distance_km=100)
    _match(run, tmp_path, near)
    table = run("request", "rematch", "R-NEAR", "--by", "h")
    assert table.exit_code == 0, table.output
    assert "0–10" in table.stdout
    explained = run("request", "show", "R-FAR", "--explain", "U-SKYDD")
    assert explained.exit_code == 0 and "DISTANCE" in explained.stdout
    assert reason["values"]["distance_km"] in explained.stdout


@pytest.mark.parametrize("protected", [True, False])
def test_ranking_of_a_protected_pair_follows_bands_not_exact_distance(run, tmp_path, protected):
    # Two units 3 and 6 km from home, same price: exact distance ranks the nearer first; for a
    # protected person both fall in the band 0–10 and the unit id decides.
    home = (57.75, 11.9)  # the centre of its grid cell: protected or not, distances are measured from here
    load_register(run, tmp_path, unit("U-B-NEAR", loc=(57.777, 11.9)), unit("U-A-FAR", loc=(57.804, 11.9)))
    req = request("R-1", home_location={"lat": home[0], "lon": home[1]}, max_distance_km=100)
    req["person"]["protected_identity"] = protected
    order = [r["unit_id"] for r in _match(run, tmp_path, req)["recommendations"]]
    assert order == (["U-A-FAR", "U-B-NEAR"] if protected else ["U-B-NEAR", "U-A-FAR"])
