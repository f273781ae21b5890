import base64
import json

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from simulators.protocol.device_key import (
    DeviceKey,
    DeviceKeyChallenge,
    DeviceKeyProof,
    DeviceProofRejected,
    verify_proof,
)
from simulators.protocol.errors import ErrorCode, PairsimError


def _challenge(nonce: str = "bm9uY2U", client_id: str = "client-1") -> DeviceKeyChallenge:
    return DeviceKeyChallenge(
        nonce=nonce,
        session_id="sess-1",
        target_origin="http://127.0.0.1:1",
        client_id=client_id,
        issued_at=10,
    )


def test_proof_from_registered_key_is_accepted() -> None:
    key = DeviceKey.generate()
    challenge = _challenge()
    verify_proof(challenge, key.prove(challenge), key.public_key_base64)


def test_proof_from_another_key_is_rejected() -> None:
    registered, attacker = DeviceKey.generate(), DeviceKey.generate()
    challenge = _challenge()
    with pytest.raises(DeviceProofRejected, match="key id"):
        verify_proof(challenge, attacker.prove(challenge), registered.public_key_base64)


def test_replayed_proof_for_an_old_challenge_is_rejected() -> None:
    key = DeviceKey.generate()
    old_proof = key.prove(_challenge(nonce="b2xk"))
    with pytest.raises(DeviceProofRejected, match="not made for this challenge") as info:
        verify_proof(_challenge(nonce="bmV3"), old_proof, key.public_key_base64)
    assert info.value.code is ErrorCode.DEVICE_PROOF_REJECTED


def test_signature_over_tampered_payload_is_rejected() -> None:
    key = DeviceKey.generate()
    challenge = _challenge()
    proof = key.prove(challenge)
    other = key.prove(_challenge(client_id="client-2"))
    forged = DeviceKeyProof(
        key_id=proof.key_id,
        signed_payload_base64=proof.signed_payload_base64,
        signature_der_base64=other.signature_der_base64,
    )
    with pytest.raises(DeviceProofRejected, match="signature is invalid"):
        verify_proof(challenge, forged, key.public_key_base64)


def test_wrong_algorithm_is_rejected() -> None:
    key = DeviceKey.generate()
    challenge = _challenge()
    proof = key.prove(challenge)
    wrong = DeviceKeyProof(proof.key_id, proof.signed_payload_base64, proof.signature_der_base64, "ed25519")
    with pytest.raises(DeviceProofRejected, match="algorithm"):
        verify_proof(challenge, wrong, key.public_key_base64)


def test_challenge_and_proof_round_trip_through_json() -> None:
    key = DeviceKey.generate()
    challenge = _challenge()
    proof = key.prove(challenge)
    assert DeviceKeyChallenge.from_json(json.loads(json.dumps(challenge.to_json()))) == challenge
    assert DeviceKeyProof.from_json(json.loads(json.dumps(proof.to_json()))) == proof


def test_registered_key_that_is_not_p256_is_a_protocol_error() -> None:
    with pytest.raises(PairsimError):
        verify_proof(
            _challenge(), DeviceKey.generate().prove(_challenge()), base64.b64encode(b"junk").decode()
        )


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda c: st.lists(c) | st.dictionaries(st.text(), c),
)


@given(JSON)
@example(_challenge().to_json())  # each model's own wire form parses, so the value branch runs too
@example(DeviceKey.generate().prove(_challenge()).to_json())
def test_arbitrary_json_gives_a_value_or_a_typed_error(obj: object) -> None:
    for model in (DeviceKeyChallenge, DeviceKeyProof):
        try:
            value = model.from_json(obj)
        except PairsimError as exc:
            assert exc.code is ErrorCode.PROTOCOL_VIOLATION and exc.message
        else:
            # Whatever parses is a whole, well-formed value: it survives its own wire form unchanged.
            assert isinstance(value, model)
            assert model.from_json(value.to_json()) == value
