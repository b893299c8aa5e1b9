//! The code fingerprint of a step: xxh3-128 of its impl block's tokens.
//!
//! The tokens are written out in a canonical text form (one space between tokens, joint
//! punctuation kept together) and hashed. Whitespace, line breaks and comments are not tokens, so
//! reformatting the impl or editing a comment leaves the fingerprint alone; doc comments are
//! tokens (`#[doc = "…"]`) but describe rather than do, so they are skipped too. Any other change
//! to the impl block (a body, a signature, an attribute) changes it.

use proc_macro2::{Delimiter, TokenStream, TokenTree};
use xxhash_rust::xxh3::xxh3_128;

/// The fingerprint of `tokens`.
pub(crate) fn fingerprint(tokens: TokenStream) -> u128 {
    let mut text = String::new();
    write_canonical(tokens, &mut text);
    xxh3_128(text.as_bytes())
}

fn write_canonical(tokens: TokenStream, out: &mut String) {
    let trees: Vec<TokenTree> = tokens.into_iter().collect();
    let mut i = 0;
    while i < trees.len() {
        if let Some(len) = doc_attr_len(&trees[i..]) {
            i += len;
            continue;
        }
        match &trees[i] {
            TokenTree::Group(g) => {
                let (open, close) = match g.delimiter() {
                    Delimiter::Parenthesis => ("(", ")"),
                    Delimiter::Brace => ("{", "}"),
                    Delimiter::Bracket => ("[", "]"),
                    Delimiter::None => ("", ""),
                };
                out.push_str(open);
                write_canonical(g.stream(), out);
                out.push_str(close);
                out.push(' ');
            }
            TokenTree::Ident(ident) => {
                out.push_str(&ident.to_string());
                out.push(' ');
            }
            TokenTree::Punct(p) => {
                out.push(p.as_char());
                if p.spacing() == proc_macro2::Spacing::Alone {
                    out.push(' ');
                }
            }
            TokenTree::Literal(lit) => {
                out.push_str(&lit.to_string());
                out.push(' ');
            }
        }
        i += 1;
    }
}

/// The number of tokens of a `#[doc …]` or `#![doc …]` attribute at the start of `trees`.
fn doc_attr_len(trees: &[TokenTree]) -> Option<usize> {
    let TokenTree::Punct(pound) = trees.first()? else {
        return None;
    };
    if pound.as_char() != '#' {
        return None;
    }
    let (bang, group) = match trees.get(1)? {
        TokenTree::Punct(p) if p.as_char() == '!' => (1, trees.get(2)?),
        other => (0, other),
    };
    let TokenTree::Group(g) = group else {
        return None;
    };
    if g.delimiter() != Delimiter::Bracket {
        return None;
    }
    match g.stream().into_iter().next() {
        Some(TokenTree::Ident(ident)) if ident == "doc" => Some(2 + bang),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::fingerprint;

    fn fp(src: &str) -> u128 {
        fingerprint(src.parse().expect("tokens"))
    }

    #[test]
    fn formatting_and_comments_do_not_count() {
        let a = fp("impl TrainerStep for T { fn train(&self) -> i64 { self.a + 1 } }");
        let b = fp(
            "impl TrainerStep for T {\n    // adds one\n    fn train(&self) -> i64 {\n        \
             self.a   +   1 /* really */\n    }\n}",
        );
        let c = fp(
            "impl TrainerStep for T {\n    /// Trains.\n    fn train(&self) -> i64 { self.a + 1 }\n}",
        );
        assert_eq!(a, b);
        assert_eq!(a, c);
    }

    #[test]
    fn code_counts() {
        let a = fp("impl TrainerStep for T { fn train(&self) -> i64 { self.a + 1 } }");
        assert_ne!(
            a,
            fp("impl TrainerStep for T { fn train(&self) -> i64 { self.a + 2 } }")
        );
        assert_ne!(
            a,
            fp("impl TrainerStep for U { fn train(&self) -> i64 { self.a + 1 } }")
        );
        assert_ne!(
            a,
            fp("impl TrainerStep for T { fn train(&self) -> i64 { self.a - 1 } }")
        );
        // Joint punctuation is not two separate tokens.
        assert_ne!(fp("a -> b"), fp("a - > b"));
    }
}
