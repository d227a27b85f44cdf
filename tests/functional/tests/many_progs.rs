//! Kernel test of an object with 50 programs: the signed loader (whose stack grows past
//! libbpf's 32 program slots) loads all of them, `attach()` attaches all 50 raw tracepoints,
//! each counts this process's getppid(2) calls, and dropping the links stops every counter.

use bpfsign_functional_tests::many::ManyProgs;
use bpfsign_kernel_tests::leak::Snapshot;
use bpfsign_kernel_tests::load;
use bpfsign_kernel_tests::setup::getppid_n;

const PROGRAMS: usize = 50;

#[test]
#[ignore = "kernel test: needs root and BPF; run with `cargo vmtest`"]
fn kernel_many_programs_load_attach_and_count() {
    let snap = Snapshot::take();
    {
        let skel = load!(ManyProgs).expect("load 50 programs");
        assert_eq!(skel.inner().prog_count(), PROGRAMS);
        let bss = skel.bss_vars().expect("bss_vars");
        bss.filter_tgid.store(std::process::id());
        let links = skel.attach().expect("attach()");
        getppid_n(3);
        let hits = skel.read_bss().expect("read_bss").hits;
        for (i, h) in hits.iter().enumerate() {
            assert!(
                *h >= 3,
                "program count_{i} counted {h} of 3 calls: {hits:?}"
            );
        }
        drop(links);
        getppid_n(3);
        let after = skel.read_bss().expect("read_bss").hits;
        assert_eq!(after, hits, "a counter moved after the links were dropped");
    }
    snap.assert_nothing_new("many programs");
}
