//! `bpfsign gen`: build-host inputs from flags equal the library's output, deterministic
//! artifacts, and errors as `bpfsign: <stage>: <message>` with exit status 1.

use std::ffi::OsStr;
use std::path::PathBuf;

use bpfsign_gen::{
    sign_object, sign_object_for, Artifact, GenOptions, Protocol, ProtocolSelection, Signer,
};

#[macro_use]
mod common;
use common::{bpfsign, fails, fixtures, kcfg_opts, ok, read};

fn manifest() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}
fn kcfg_obj() -> PathBuf {
    manifest().join("../../tests/fixtures/gen/kcfg/kcfg.bpf.o")
}
fn key_a() -> PathBuf {
    fixtures().join("keys/TEST-ONLY-key-a.pem")
}

/// A fresh scratch directory per test.
fn scratch(test: &str) -> PathBuf {
    common::scratch("cli-gen", test)
}

#[test]
fn build_input_flags_equal_library_output() {
    let dir = scratch("inputs");
    let obj = kcfg_obj();
    // `--unsigned` implies `--allow-unsigned`: the unsigned loader is embedded too.
    let with_unsigned = ProtocolSelection::new().allow_unsigned(true);
    let expected = sign_object_for(&obj, None, &kcfg_opts(), &with_unsigned).unwrap();

    // --kconfig-value flags, release-style kernel version.
    let flags_skel = dir.join("flags.skel");
    ok(&bpfsign(os![
        "gen",
        &obj,
        "--unsigned",
        "--name",
        "kcfg",
        "--kconfig-value",
        "CONFIG_HZ=250",
        "--kconfig-value",
        "CONFIG_BPF_SYSCALL=y",
        "--kconfig-value",
        "CONFIG_LOCALVERSION=\"-fc-v669\"",
        "--kernel-version",
        "6.18.44",
        "--ksym-addr",
        "_stext=0xffffffff81000000",
        "-o",
        &flags_skel,
    ]));
    let got = Artifact::read(&flags_skel).unwrap();
    assert_eq!(got, expected);
    assert_eq!(read(&flags_skel), expected.to_bytes());
    // ... and that is bpftool's output for these values.
    let golden = |f: &str| read(&manifest().join("../../tests/fixtures/gen/kcfg").join(f));
    assert_eq!(got.data, golden("data.bin"));
    for (p, f) in [
        (Protocol::Unsigned, "unsigned.insns"),
        (Protocol::P1b, "p1b.insns"),
        (Protocol::P2, "p2.insns"),
    ] {
        assert!(got.variant(p).unwrap().insns == golden(f), "{f}");
    }

    // A .config file (comments, "is not set", other options, a value overridden later),
    // hex kernel version: the same bytes.
    let config = dir.join("kernel.config");
    std::fs::write(
        &config,
        "#\n# Automatically generated file; DO NOT EDIT.\n#\nCONFIG_HZ=1000\n\
         # CONFIG_DEBUG_INFO is not set\nCONFIG_BPF_SYSCALL=y\nCONFIG_BPF_JIT=y\n\
         CONFIG_LOCALVERSION=\"-fc-v669\"\n",
    )
    .unwrap();
    let file_skel = dir.join("file.skel");
    ok(&bpfsign(os![
        "gen",
        &obj,
        "--unsigned",
        "--name=kcfg",
        "--kconfig",
        &config,
        "--kconfig-value=CONFIG_HZ=250",
        "--kernel-version=0x6122c",
        "--ksym-addr",
        "_stext=18446744071578845184",
        "-o",
        &file_skel,
    ]));
    assert_eq!(read(&file_skel), read(&flags_skel));

    // Signed, with the other inputs too: equal to the library with the same options.
    let mut opts = kcfg_opts();
    opts.possible_cpus = Some(6);
    opts.page_size = 16384;
    let signer = Signer::from_pem_file(key_a()).unwrap();
    let expected = sign_object(&obj, Some(&signer), &opts).unwrap();
    let signed_skel = dir.join("signed.skel");
    ok(&bpfsign(os![
        "gen",
        &obj,
        "--key",
        &key_a(),
        "--name",
        "kcfg",
        "--kconfig",
        &config,
        "--kconfig-value",
        "CONFIG_HZ=250",
        "--kernel-version",
        "6.18.44",
        "--ksym-addr",
        "_stext=0xffffffff81000000",
        "--possible-cpus",
        "6",
        "--page-size",
        "16384",
        "-o",
        &signed_skel,
    ]));
    assert_eq!(read(&signed_skel), expected.to_bytes());

    // --page-size reaches the generator: misc's 10000-byte ring buffer is rounded to it.
    let misc = manifest().join("../../tests/fixtures/gen/extra/misc/misc.bpf.o");
    let misc_skel = dir.join("misc.skel");
    ok(&bpfsign(os![
        "gen",
        &misc,
        "--unsigned",
        "--page-size",
        "65536",
        "-o",
        &misc_skel
    ]));
    let opts = GenOptions {
        page_size: 65536,
        ..Default::default()
    };
    let got = Artifact::read(&misc_skel).unwrap();
    assert_eq!(
        got,
        sign_object_for(&misc, None, &opts, &with_unsigned).unwrap()
    );
    let rb = |a: &Artifact| {
        a.meta
            .maps
            .iter()
            .find(|m| m.ident == "rb")
            .unwrap()
            .max_entries
    };
    assert_eq!(rb(&got), 65536);
    assert_eq!(
        rb(&sign_object(&misc, None, &GenOptions::default()).unwrap()),
        16384
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn missing_or_malformed_build_inputs_fail_cleanly() {
    let dir = scratch("bad-inputs");
    let obj = kcfg_obj();
    let out = dir.join("out.skel");
    // `bpfsign gen <obj> --unsigned <flag> <value> -o <out>`, which must fail at `stage`.
    let gen_fails = |flag: &str, value: &OsStr, stage: &str| {
        fails(
            &bpfsign(os!["gen", &obj, "--unsigned", flag, value, "-o", &out]),
            stage,
        )
    };
    // No kernel version: the generator names the extern and the option.
    let err = gen_fails(
        "--kconfig-value",
        "CONFIG_BPF_SYSCALL=y".as_ref(),
        "generate",
    );
    assert!(err.contains("LINUX_KERNEL_VERSION"), "{err}");
    // A strong CONFIG_ extern with no value.
    let err = gen_fails("--kernel-version", "6.18".as_ref(), "generate");
    assert!(err.contains("CONFIG_BPF_SYSCALL"), "{err}");
    assert!(!out.exists());

    for (flag, value, needle) in [
        ("--kernel-version", "six", "expected MAJOR.MINOR"),
        (
            "--kconfig-value",
            "HZ=250",
            "not a kernel config option name",
        ),
        ("--kconfig-value", "CONFIG_HZ", "not CONFIG_NAME=VALUE"),
        ("--ksym-addr", "_stext=0xzz", "not an address"),
        ("--possible-cpus", "0", "--possible-cpus"),
        ("--page-size", "4095", "power of two"),
    ] {
        let err = gen_fails(flag, value.as_ref(), "usage");
        assert!(err.contains(needle), "{flag} {value}: {err}");
    }
    let bad_config = dir.join("bad.config");
    std::fs::write(&bad_config, "CONFIG_A=y\nnot a config line\n").unwrap();
    let err = gen_fails("--kconfig", bad_config.as_os_str(), "usage");
    assert!(err.contains("bad.config:2:"), "{err}");
    let err = gen_fails("--kconfig", dir.join("nope").as_os_str(), "read");
    assert!(err.contains("nope"), "{err}");
    assert!(!out.exists());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn two_runs_give_identical_bytes_and_name_the_generator() {
    let dir = scratch("determinism");
    let obj = fixtures().join("obj/hello.bpf.o");
    let (a, b) = (dir.join("a.skel"), dir.join("b.skel"));
    for out in [&a, &b] {
        ok(&bpfsign(os!["gen", &obj, "--key", &key_a(), "-o", out]));
    }
    assert_eq!(read(&a), read(&b));
    let art = Artifact::read(&a).unwrap();
    assert_eq!(art.generator, bpfsign_gen::artifact::GENERATOR);
    assert!(art.missing_signatures().is_empty());
    // The certificate travels with the artifact, the private key never does.
    let signer = Signer::from_pem_file(key_a()).unwrap();
    assert_eq!(art.certificate, Some(signer.cert_der().unwrap()));
    let text = String::from_utf8(read(&a)).unwrap();
    assert!(!text.contains("PRIVATE"));
    // An unchanged artifact is not rewritten.
    let mtime = std::fs::metadata(&a).unwrap().modified().unwrap();
    ok(&bpfsign(os!["gen", &obj, "--key", &key_a(), "-o", &a]));
    assert_eq!(std::fs::metadata(&a).unwrap().modified().unwrap(), mtime);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn usage_errors_exit_1_with_stage() {
    let dir = scratch("usage");
    let obj = fixtures().join("obj/hello.bpf.o");
    let out = dir.join("o.skel");
    fails(&bpfsign(os![]), "usage");
    fails(&bpfsign(os!["frobnicate"]), "usage");
    let err = fails(&bpfsign(os!["gen", &obj, "-o", &out]), "usage");
    assert!(err.contains("--key"), "{err}");
    // Conflicting, repeated, unknown or missing arguments: each a usage error.
    let key = key_a();
    let cases: [&[&std::ffi::OsStr]; 5] = [
        os!["gen", &obj, "--key", &key, "--unsigned", "-o", &out],
        os!["gen", &obj, "--cert", &key, "--unsigned", "-o", &out],
        os!["gen", &obj, "--key", &key, "--key", &key, "-o", &out],
        os!["gen", &obj, "--key", &key, "--bogus", "-o", &out],
        os!["gen", &obj, "--key", &key],
    ];
    for args in cases {
        fails(&bpfsign(args), "usage");
    }
    let err = fails(
        &bpfsign(os![
            "gen",
            &dir.join("missing.bpf.o"),
            "--unsigned",
            "-o",
            &out
        ]),
        "read",
    );
    assert!(err.contains("missing.bpf.o"), "{err}");
    let err = fails(
        &bpfsign(os!["gen", &key_a(), "--unsigned", "-o", &out]),
        "parse",
    );
    assert!(err.contains("not an ELF file"), "{err}");
    let err = fails(
        &bpfsign(os![
            "gen",
            &obj,
            "--key",
            &fixtures().join("keys/TEST-ONLY-noskid.crt.pem"),
            "-o",
            &out
        ]),
        "key",
    );
    assert!(err.contains("no private key"), "{err}");
    assert!(!out.exists());
    let err = fails(
        &bpfsign(os![
            "gen",
            &obj,
            "--unsigned",
            "-o",
            &dir.join("no/such/dir/o.skel")
        ]),
        "write",
    );
    assert!(err.contains("o.skel"), "{err}");
    // dump: bad values and missing pieces.
    ok(&bpfsign(os!["gen", &obj, "--unsigned", "-o", &out]));
    let err = fails(
        &bpfsign(os![
            "dump",
            &out,
            "--protocol",
            "p3",
            "--what",
            "insns",
            "-o",
            "-"
        ]),
        "usage",
    );
    assert!(err.contains("p1b"), "{err}");
    let err = fails(
        &bpfsign(os!["dump", &out, "--what", "insns", "-o", "-"]),
        "usage",
    );
    assert!(err.contains("--what insns needs --protocol"), "{err}");
    fails(
        &bpfsign(os![
            "dump",
            &out,
            "--protocol",
            "p1",
            "--what",
            "sig",
            "-o",
            "-"
        ]),
        "dump",
    );
    let data = bpfsign(os!["dump", &out, "--what", "data", "-o", "-"]);
    ok(&data);
    assert_eq!(data.stdout, Artifact::read(&out).unwrap().data);
    fails(
        &bpfsign(os!["dump", &obj, "--what", "data", "-o", "-"]),
        "read",
    );
    // help and version succeed on standard output.
    let cases: [&[&std::ffi::OsStr]; 3] = [os!["--help"], os!["gen", "--help"], os!["--version"]];
    for args in cases {
        let o = bpfsign(args);
        ok(&o);
        assert!(!o.stdout.is_empty());
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn protocols_and_allow_unsigned_choose_the_loaders() {
    let dir = scratch("protocols");
    let obj = fixtures().join("obj/hello.bpf.o");
    let protocols = |skel: &PathBuf| -> Vec<Protocol> {
        Artifact::read(skel)
            .unwrap()
            .variants
            .iter()
            .map(|v| v.protocol)
            .collect()
    };
    let signed = dir.join("signed.skel");
    ok(&bpfsign(os!["gen", &obj, "--key", &key_a(), "-o", &signed]));
    assert_eq!(
        protocols(&signed),
        Protocol::SIGNED,
        "no unsigned loader by default"
    );
    let signer = Signer::from_pem_file(key_a()).unwrap();
    assert_eq!(
        read(&signed),
        sign_object(&obj, Some(&signer), &GenOptions::default())
            .unwrap()
            .to_bytes()
    );

    let two = dir.join("two.skel");
    ok(&bpfsign(os![
        "gen",
        &obj,
        "--key",
        &key_a(),
        "--protocols",
        "p2,p1b",
        "-o",
        &two
    ]));
    assert_eq!(protocols(&two), [Protocol::P1b, Protocol::P2]);
    let all = dir.join("all.skel");
    ok(&bpfsign(os![
        "gen",
        &obj,
        "--key",
        &key_a(),
        "--allow-unsigned",
        "-o",
        &all
    ]));
    assert_eq!(protocols(&all), Protocol::ALL);
    let offline = dir.join("offline.skel");
    ok(&bpfsign(os![
        "gen",
        &obj,
        "--unsigned",
        "--protocols",
        "p2",
        "-o",
        &offline
    ]));
    assert_eq!(protocols(&offline), [Protocol::Unsigned, Protocol::P2]);
    // The loaders are the library's, byte for byte.
    let sel = ProtocolSelection::new()
        .with_signed(&[Protocol::P1b, Protocol::P2])
        .unwrap();
    assert_eq!(
        read(&two),
        sign_object_for(&obj, Some(&signer), &GenOptions::default(), &sel)
            .unwrap()
            .to_bytes()
    );

    for (bad, want) in [
        ("p3", "unknown"),
        ("unsigned", "allow_unsigned"),
        ("", "p1, p1b, p2"),
    ] {
        let out = bpfsign(os![
            "gen",
            &obj,
            "--key",
            &key_a(),
            "--protocols",
            bad,
            "-o",
            &dir.join("x.skel")
        ]);
        assert!(!out.status.success(), "{bad}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(want), "--protocols {bad:?}: {err}");
    }
    assert!(!dir.join("x.skel").exists());
    std::fs::remove_dir_all(&dir).unwrap();
}
