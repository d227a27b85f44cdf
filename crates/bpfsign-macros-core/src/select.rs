//! Which loaders the skeleton embeds: `protocols = [...]` and `allow_unsigned`, applied to the
//! loaders generated from an object ([`selection`]) or to an artifact's variants
//! ([`select_variants`]).

use bpfsign_gen::artifact::Artifact;
use bpfsign_gen::meta::Protocol;
use bpfsign_gen::ProtocolSelection;

use crate::input::MacroInput;

/// The loaders to generate for an object: the listed signed protocols (default p1, p1b, p2),
/// plus the unsigned loader only with `allow_unsigned = true`.
pub(crate) fn selection(input: &MacroInput) -> ProtocolSelection {
    let base = ProtocolSelection::new().allow_unsigned(input.allow_unsigned);
    match &input.protocols {
        // The list was checked with the same `with_signed` when parsed, so this cannot fail.
        Some((list, _)) => base.clone().with_signed(list).unwrap_or(base),
        None => base,
    }
}

/// Keeps the artifact variants the input selects: with `protocols`, exactly those (each must be
/// in the artifact); without, every signed variant the artifact has. The unsigned variant stays
/// only with `allow_unsigned = true`. Returns why the artifact cannot satisfy the selection.
pub(crate) fn select_variants(art: &mut Artifact, input: &MacroInput) -> Result<(), String> {
    let have: Vec<Protocol> = art.variants.iter().map(|v| v.protocol).collect();
    let names = |ps: &[Protocol]| ps.iter().map(|p| p.as_str()).collect::<Vec<_>>().join(", ");
    if let Some((list, _)) = &input.protocols {
        let missing: Vec<Protocol> = list.iter().copied().filter(|p| !have.contains(p)).collect();
        if !missing.is_empty() {
            return Err(format!(
                "`protocols` asks for {} but the artifact has no such loader (it has: {}); \
                 regenerate it with those protocols (`bpfsign gen --protocols …`)",
                names(&missing),
                names(&have)
            ));
        }
    }
    art.variants
        .retain(|v| match (v.protocol, &input.protocols) {
            (Protocol::Unsigned, _) => input.allow_unsigned,
            (p, Some((list, _))) => list.contains(&p),
            (_, None) => true,
        });
    if art.variants.is_empty() {
        return Err(format!(
            "the artifact has no loader to embed (it has: {}): its only loader is the unsigned \
             one, which is embedded only with `allow_unsigned = true`",
            names(&have)
        ));
    }
    Ok(())
}
