//! Each algorithm against its standard's published test vectors.

use super::cipher::encrypt_with_nonce;
use super::*;
use crate::CryptoError;

fn bytes(hex_text: &str) -> Vec<u8> {
    let compact: String = hex_text.split_whitespace().collect();
    hex::decode(compact).expect("test vector hex")
}

/// The body of a sealed value: ciphertext and tag, without the header.
fn body(sealed: &[u8]) -> &[u8] {
    &sealed[17..]
}

#[test]
fn aes_256_gcm_nist_gcm_spec_test_case_16() {
    // The GCM specification's (McGrew and Viega, as used by NIST's CAVP
    // validation) test case 16: AES-256, 60-byte message, 20-byte AAD.
    let key = bytes("feffe9928665731c6d6a8f9467308308 feffe9928665731c6d6a8f9467308308");
    let nonce: [u8; 12] = bytes("cafebabefacedbaddecaf888").try_into().expect("nonce");
    let aad = bytes("feedfacedeadbeeffeedfacedeadbeef abaddad2");
    let plaintext = bytes(
        "d9313225f88406e5a55909c5aff5269a 86a7a9531534f7da2e4c303d8a318a72
         1c3c0c95956809532fcf0e2449a6b525 b16aedf5aa0de657ba637b39",
    );
    let expected = bytes(
        "522dc1f099567d07f47f37a32a84427d 643a8cdcbfe5c0c97598a2bd2555d1aa
         8cb08e48590dbb3da7b08b1056828838 c5f61e6393ba7a0abcc9f662
         76fc6ece0f4e1768cddf8853bb2d551b",
    );
    let data_key = DataKey::from_material(Suite::Intl, 1, &key).expect("key");
    let sealed = encrypt_with_nonce(&data_key, nonce, &aad, &plaintext);
    assert_eq!(body(&sealed), expected.as_slice());
    assert_eq!(
        data_key.decrypt(&aad, &sealed).expect("open").as_slice(),
        plaintext.as_slice()
    );
}

#[test]
fn sm4_gb_t_32907_example_and_rfc_8998_gcm() {
    // GB/T 32907-2016 Appendix A, example 1: the block cipher itself.
    use sm4::cipher::{BlockCipherEncrypt, KeyInit};
    let key = bytes("0123456789abcdeffedcba9876543210");
    let cipher = sm4::Sm4::new_from_slice(&key).expect("key");
    let mut block = sm4::cipher::Block::<sm4::Sm4>::try_from(key.as_slice()).expect("block");
    cipher.encrypt_block(&mut block);
    assert_eq!(block.as_slice(), bytes("681edf34d206965e86b3e94f536e4246"));
    // Example 2: the same block encrypted 1,000,000 times.
    let mut block = sm4::cipher::Block::<sm4::Sm4>::try_from(key.as_slice()).expect("block");
    for _ in 0..1_000_000 {
        cipher.encrypt_block(&mut block);
    }
    assert_eq!(block.as_slice(), bytes("595298c7c6fd271f0402f804c33d3f66"));

    // RFC 8998 Appendix A.1: SM4-GCM.
    let nonce: [u8; 12] = bytes("00001234567800000000abcd").try_into().expect("nonce");
    let aad = bytes("feedfacedeadbeeffeedfacedeadbeef abaddad2");
    let plaintext = bytes(
        "aaaaaaaaaaaaaaaabbbbbbbbbbbbbbbb cccccccccccccccc dddddddddddddddd
         eeeeeeeeeeeeeeeeffffffffffffffff eeeeeeeeeeeeeeee aaaaaaaaaaaaaaaa",
    );
    let expected = bytes(
        "17f399f08c67d5ee19d0dc9969c4bb7d 5fd46fd3756489069157b282bb200735
         d82710ca5c22f0ccfa7cbf93d496ac15 a56834cbcf98c397b4024a2691233b8d
         83de3541e4c2b58177e065a9bf7b62ec",
    );
    let data_key = DataKey::from_material(Suite::Sm, 1, &key).expect("key");
    let sealed = encrypt_with_nonce(&data_key, nonce, &aad, &plaintext);
    assert_eq!(body(&sealed), expected.as_slice());
    assert_eq!(
        data_key.decrypt(&aad, &sealed).expect("open").as_slice(),
        plaintext.as_slice()
    );
}

#[test]
fn sm3_gb_t_32905_examples() {
    // GB/T 32905-2016 Appendix A: "abc" and "abcd" sixteen times.
    assert_eq!(
        Suite::Sm.digest(b"abc").to_vec(),
        bytes("66c7f0f462eeedd9d1f2d46bdc10e4e2 4167c4875cf2f7a2297da02b8f4ba8e0")
    );
    assert_eq!(
        Suite::Sm.digest(&b"abcd".repeat(16)).to_vec(),
        bytes("debe9ff92275b8a138604889c18e5a4d 6fdb70e5387e5765293dcba39c0c5732")
    );
}

#[test]
fn sha_256_fips_180_examples() {
    // FIPS 180-4 examples (NIST CSRC): "abc" and the 448-bit message.
    assert_eq!(
        Suite::Intl.digest(b"abc").to_vec(),
        bytes("ba7816bf8f01cfea414140de5dae2223 b00361a396177a9cb410ff61f20015ad")
    );
    assert_eq!(
        Suite::Intl
            .digest(b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")
            .to_vec(),
        bytes("248d6a61d20638b8e5c026930c3e6039 a33ce45964ff2167f6ecedd419db06c1")
    );
}

#[test]
fn hmac_sha_256_rfc_4231_case_2() {
    let key = MacKey::with_any_key(Suite::Intl, b"Jefe");
    assert_eq!(
        key.hmac(b"what do ya want for nothing?").to_vec(),
        bytes("5bdcc146bf60754e6a042426089575c7 5a003f089d2739839dec58b964ec3843")
    );
}

#[test]
fn hmac_sm3_is_rfc_2104_over_sm3() {
    // There is no published HMAC-SM3 vector in GB/T 15852.2; check the
    // construction against RFC 2104 spelled out over SM3 (GB/T 32905),
    // whose own vectors pass above, for a short and a long (hashed) key.
    fn rfc_2104(key: &[u8], message: &[u8]) -> [u8; 32] {
        let mut block = [0u8; 64];
        if key.len() > 64 {
            block[..32].copy_from_slice(&Suite::Sm.digest(key));
        } else {
            block[..key.len()].copy_from_slice(key);
        }
        let inner_key: Vec<u8> = block.iter().map(|b| b ^ 0x36).collect();
        let outer_key: Vec<u8> = block.iter().map(|b| b ^ 0x5c).collect();
        let inner = Suite::Sm.digest(&[inner_key.as_slice(), message].concat());
        Suite::Sm.digest(&[outer_key.as_slice(), &inner].concat())
    }
    for key in [b"Jefe".to_vec(), vec![0xaa; 131]] {
        let mac = MacKey::with_any_key(Suite::Sm, &key);
        assert_eq!(
            mac.hmac(b"what do ya want for nothing?"),
            rfc_2104(&key, b"what do ya want for nothing?")
        );
    }
}

#[test]
fn ed25519_rfc_8032_test_1_and_2() {
    for (secret, public, message, signature) in [
        (
            "9d61b19deffd5a60ba844af492ec2cc4 4449c5697b326919703bac031cae7f60",
            "d75a980182b10ab7d54bfed3c964073a 0ee172f3daa62325af021a68f707511a",
            "",
            "e5564300c360ac729086e2cc806e828a 84877f1eb8e5d974d873e06522490155
             5fb8821590a33bacc61e39701cf9b46b d25bf5f0595bbe24655141438e7a100b",
        ),
        (
            "4ccd089b28ff96da9db6c346ec114e0f 5b8a319f35aba624da8cf6ed4fb8a6fb",
            "3d4017c3e843895a92b70aa74d1b7ebc 9c982ccf2ec4968cc0cd55f12af4660c",
            "72",
            "92a009a9f0d4cab8720e820b5f642540 a2b27b5416503f8fb3762223ebdb69da
             085ac1e43e15996e458f3613d0f11d8c 387b2eaeb4302aeeb00d291612bb0c00",
        ),
    ] {
        let key = SigningKey::from_material(Suite::Intl, &bytes(secret)).expect("key");
        assert_eq!(key.public_key().to_bytes(), bytes(public));
        let message = bytes(message);
        assert_eq!(key.sign(&message).to_vec(), bytes(signature));
        key.public_key()
            .verify(&message, &bytes(signature))
            .expect("the published signature verifies");
    }
}

#[test]
fn sm2_gb_t_32918_signature_example() {
    // GB/T 32918.5-2017 (GM/T 0003.5-2012) Appendix A: the signature
    // example on the recommended curve, signer ID 1234567812345678.
    let secret = bytes("3945208f7b2144b13f36e38ac6d39f95 889393692860b51a42fb81ef4df7c5b8");
    let public = bytes(
        "04 09f9df311e5421a150dd7d161e4bc5c6 72179fad1833fc076bb08ff356f35020
            ccea490ce26775a52dc6ea718cc1aa60 0aed05fbf35e084a6632f6072da9ad13",
    );
    let signature = bytes(
        "f5a03b0648d2c4630eeac513e1bb81a1 5944da3827d5b74143ac7eaceee720b3
         b1b6aa29df212fd8763182bc0d421ca1 bb9038fd1f7f42d4840b69c485bbc1aa",
    );
    let key = SigningKey::from_material(Suite::Sm, &secret).expect("key");
    assert_eq!(key.public_key().to_bytes(), public);
    let verifier = PublicKey::from_bytes(Suite::Sm, &public).expect("public key");
    verifier
        .verify(b"message digest", &signature)
        .expect("the published signature verifies");
    assert!(matches!(
        verifier.verify(b"message digesT", &signature),
        Err(CryptoError::BadSignature)
    ));
    // Signing is randomised; a fresh signature must verify all the same.
    let fresh = key.sign(b"message digest");
    verifier
        .verify(b"message digest", &fresh)
        .expect("fresh signature");
}
