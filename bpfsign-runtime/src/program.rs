//! [`Program`]: a handle on one loaded program of a skeleton, with every way to attach it.
//!
//! The attach methods live next to the kernel interface they use (`crate::attach`); this
//! module holds the handle itself.

use std::os::fd::{AsFd, BorrowedFd};

use crate::error::{Ctx, Error, Stage};
use crate::load::LoadedSkeleton;
use crate::sys::RealKernel;

/// A loaded program of a skeleton: its fd, its section and the attach methods
/// ([`Program::attach`] by section, or per kind). Borrowed from the [`LoadedSkeleton`], so it
/// cannot outlive the program's fd.
#[derive(Clone, Copy)]
pub struct Program<'a> {
    skel: &'a LoadedSkeleton,
    index: usize,
    fd: BorrowedFd<'a>,
}

impl std::fmt::Debug for Program<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Program")
            .field("name", &self.name())
            .field("section", &self.section())
            .field("fd", &self.fd)
            .finish()
    }
}

impl<'a> Program<'a> {
    /// The program's fd.
    pub fn fd(&self) -> BorrowedFd<'a> {
        self.fd
    }

    /// Index of the program in the skeleton (object order, subprograms excluded).
    pub fn index(&self) -> usize {
        self.index
    }

    /// The program's name (its C function name).
    pub fn name(&self) -> &'a str {
        &self.skel.progs[self.index].name
    }

    /// Its ELF section without the `?` marker (`kprobe/do_unlinkat`, `xdp`).
    pub fn section(&self) -> &'a str {
        &self.skel.progs[self.index].section
    }

    /// `BPF_PROG_TYPE_*` it was loaded as.
    pub fn prog_type(&self) -> u32 {
        self.skel.progs[self.index].prog_type
    }

    /// `BPF_*` attach type it was loaded with (`expected_attach_type`).
    pub fn expected_attach_type(&self) -> u32 {
        self.skel.progs[self.index].expected_attach_type
    }

    /// The program's kernel ID (`BPF_OBJ_GET_INFO_BY_FD`), as `bpftool prog` lists it and
    /// [`crate::ProgArray::prog_id`] and [`crate::LinkInfo::prog_id`] report it.
    pub fn id(&self) -> Result<u32, Error> {
        self.id_with(&RealKernel)
    }

    pub(crate) fn id_with(&self, sys: &dyn crate::sys::Sys) -> Result<u32, Error> {
        crate::sys::obj_id(sys, self.fd).map_err(|e| {
            Error::sys(
                Stage::Access,
                &e,
                format!("BPF_OBJ_GET_INFO_BY_FD of program {}", self.name()),
                &self.ctx(),
            )
        })
    }

    /// The skeleton the program belongs to.
    pub fn skeleton(&self) -> &'a LoadedSkeleton {
        self.skel
    }

    /// Attaches the program as its section says (`kprobe/SYM`, `tracepoint/CAT/NAME`,
    /// `fentry/FUNC`, …); a section without a target (`xdp`, `tc`, `cgroup_skb/ingress`, bare
    /// `kprobe`) is an error that names the per-kind method to call instead.
    pub fn attach(&self) -> Result<crate::Link, Error> {
        self.skel.attach_prog_with(&RealKernel, self.index)
    }

    /// Context for errors about this program.
    pub(crate) fn ctx(&self) -> Ctx {
        Ctx {
            skeleton: Some(self.skel.name().to_string()),
            protocol: Some(self.skel.protocol()),
            ..Ctx::default()
        }
    }

    /// An attach error that did not come from a system call.
    pub(crate) fn attach_error(&self, detail: String, guidance: &str) -> Error {
        Error::other(Stage::Attach, detail, guidance, &self.ctx())
    }
}

impl AsFd for Program<'_> {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd
    }
}

impl LoadedSkeleton {
    /// A handle on program `i`, or an error saying why there is none: no such program, or it
    /// was not loaded (`SEC("?...")`: autoload off when the skeleton was signed).
    pub fn program(&self, i: usize) -> Result<Program<'_>, Error> {
        let fd = self.loaded_prog_fd(i)?;
        Ok(Program {
            skel: self,
            index: i,
            fd,
        })
    }

    /// A handle on program `i` for generated code that checked once, right after loading,
    /// that the program has an fd (`include_signed_skel!`'s `load()` does).
    ///
    /// # Panics
    /// If program `i` does not exist or was not loaded: a broken invariant of the generated
    /// code, never a user error. Use [`LoadedSkeleton::program`] otherwise.
    #[doc(hidden)]
    pub fn program_unchecked(&self, i: usize) -> Program<'_> {
        match self.program(i) {
            Ok(p) => p,
            Err(e) => panic!("bpfsign generated code: program #{i} was checked at load: {e}"),
        }
    }

    /// Handles on every loaded program, in skeleton order.
    pub fn programs(&self) -> impl Iterator<Item = Program<'_>> + '_ {
        (0..self.prog_count()).filter_map(|i| self.program(i).ok())
    }
}
