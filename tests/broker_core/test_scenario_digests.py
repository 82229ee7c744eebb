"""Every built-in scenario's `python -m broker_core run NAME --jsonl` output, byte for byte, as
it was before the model was reshaped (issue 14): the digests below were recorded on the tree
before its first commit, with each scenario's own seed and with seed 3. Reshaping the model
(answers, handler modules, an event catalogue, cheaper events) must not change one event.

A scenario whose output changes on purpose (a corrected rule) updates its digest in the same
commit, saying why."""

import hashlib
import io

import pytest

from broker_core.__main__ import BUILTIN_NAMES, parser, run

DIGESTS = {
    ("amazon-orders", None): "956d41e8b2717c3bfcde644b81063180570e5f06f63172086abe33ea61171df0",
    ("amazon-orders", 3): "6a89c7174dff475a9bac6a4c38b63eaaf3809f093e7c2682ed83f69dc1e7cd1e",
    ("amazon-sync-vs-async", None):
        "5b2b8e1c9c317c7f76c68b76306e1d7b01cd5336d15e6a2a93ba1555c1b91cfc",
    ("amazon-sync-vs-async", 3): "c5a69f76ce612067bfe2d505b96051ea87db179f95ca7b23799ffa7e5e8d46f7",
    ("youtube-upload", None): "92bfd38817ba25ca8af72464795bdabfdd429b5c6a055d385a6e85e8a2a1dcf7",
    ("youtube-upload", 3): "cd11620a7db124a14d24d97125cab24a01c1371155f47fadc99e33d5079db4fe",
    ("signup", None): "ee3dc5fb561b3d777dcb6373515916f0927d75bb8990ca1d4cebf9e228fcaaa8",
    ("signup", 3): "ee3dc5fb561b3d777dcb6373515916f0927d75bb8990ca1d4cebf9e228fcaaa8",
    ("broker-failure", None): "22c2197fb11f2e458165b374c1cdfb991ebb74f3c114b812bf00df80a489660c",
    ("broker-failure", 3): "6a3968b4fdc994ad07a96bdd4d869c01f19fc11ecbe1b369b7c0aeaab5160da8",
    ("lost-write", None): "3246469bbedc1a885c90b7a448594fdf40e9e1f84179ee53a1c4c3b0bf6e04fc",
    ("lost-write", 3): "5f0d78963abf32b2f86a265dca2077a11dc529ec6645a3ec8d5399d528274292",
    ("unclean-election", None): "e08a4c9851182009877336a89ddb71783969c3389e3f970955997d9007565ace",
    ("unclean-election", 3): "4eb26d8d4bf23da5c139ec5bd755e3c55863b6be4fe05861049841a195ab11e3",
    ("poison-message", None): "39e41f3de83a5e44d1a24e1c64ec771aeb5100633b0c57444d39036fb7e58c6f",
    ("poison-message", 3): "0e5e68b86b303bc67424954177b834cf27e804d8d5fe49dabce45e9ea5181c89",
    ("timeout-24h", None): "4bbb661c3c8a3aafa48ae42e26d020d64b3454c5ee98334c0605890e75ebdce7",
    ("timeout-24h", 3): "4e3be44150c187f3d2f433d5aab83e5f539149c9b351899fd73eb31e852843eb",
    ("rebalance", None): "5d95e3a08982a2290b2dacdd6bc85e94b95ee4ad4d1a33488d9c2a31a81d1674",
    ("rebalance", 3): "141f2f636086109c566fb8c20f5fd95921d71c4f7653b30eacfeeab93e7ae091",
}


def test_every_built_in_scenario_has_a_recorded_digest():
    assert {name for name, _ in DIGESTS} == set(BUILTIN_NAMES)


@pytest.mark.parametrize(("name", "seed"), sorted(DIGESTS, key=str))
def test_scenario_jsonl_output_is_unchanged(name, seed):
    out = io.StringIO()
    run(parser().parse_args(["run", name, "--jsonl"] + (["--seed", str(seed)] if seed else [])),
        out)
    text = out.getvalue()
    assert text.count("\n") > 10
    digest = hashlib.sha256(text.encode()).hexdigest()
    assert digest == DIGESTS[(name, seed)], (
        f"{name} (seed {seed or 'its own'}): the events differ from those recorded before "
        f"issue 14; first lines: {text[:300]!r}")
