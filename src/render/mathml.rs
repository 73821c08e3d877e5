//! LaTeX to MathML for the HTML page, through `latex2mathml`, with a guard: output that is not
//! well-formed XML or that reports a parse error is replaced by the LaTeX itself, escaped, so the
//! page is always well-formed. Knows nothing about page layout.

use latex2mathml::DisplayStyle;

/// Escapes text for XML content and attribute values.
pub(super) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            other => out.push(other),
        }
    }
    out
}

/// `latex` as a whole `<math>` element, or as escaped LaTeX in `<code>` when it cannot be
/// converted cleanly.
pub(super) fn math(latex: &str, display: DisplayStyle) -> String {
    convert(latex, display).unwrap_or_else(|| format!("<code class=\"tex\">{}</code>", escape(latex)))
}

/// The MathML content of `latex` without its `<math>` wrapper, to place inside a larger `<math>`
/// (a table cell); escaped LaTeX in `<mtext>` when it cannot be converted cleanly.
pub(super) fn content(latex: &str) -> String {
    convert(latex, DisplayStyle::Block)
        .and_then(|m| {
            let start = m.find('>')? + 1;
            Some(m[start..].strip_suffix("</math>")?.to_string())
        })
        .unwrap_or_else(|| format!("<mtext class=\"tex\">{}</mtext>", escape(latex)))
}

fn convert(latex: &str, display: DisplayStyle) -> Option<String> {
    let once = |tex: &str| latex2mathml::latex_to_mathml(tex, display).ok().filter(|m| usable(m));
    // latex2mathml's `\text{…}` keeps only letters and derails on digits (`fp32`); `\mathrm` reads
    // any group, so it is the second try before giving up on MathML.
    once(latex)
        .or_else(|| if latex.contains("\\text{") { once(&latex.replace("\\text{", "\\mathrm{")) } else { None })
        .map(|m| typeset(&m))
}

/// Typographic touches on converted MathML: a minus sign rather than a hyphen (the converter
/// copies `-` as it is), and long whole numbers in groups of three like the rest of the page.
fn typeset(mathml: &str) -> String {
    let mathml = brackets(&mathml.replace("<mo>-</mo>", "<mo>\u{2212}</mo>"));
    let mut out = String::with_capacity(mathml.len());
    let mut rest = mathml.as_str();
    while let Some(i) = rest.find("<mn>") {
        let (before, tail) = rest.split_at(i + 4);
        out.push_str(before);
        let end = tail.find('<').unwrap_or(tail.len());
        let digits = &tail[..end];
        if digits.len() > 4 && digits.bytes().all(|b| b.is_ascii_digit()) {
            out.push_str(&crate::dim::group_thousands(digits));
        } else {
            out.push_str(digits);
        }
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

/// A bracket pair around nothing taller than a line is set at its natural size
/// (`stretchy="false"`): Chromium leaves a gap inside a stretchy bracket even when it does not
/// stretch, which spells `L(4H² + 2H)` as `L ( 4H² + 2H )`. Brackets around a fraction, a root or
/// a table keep stretching.
fn brackets(mathml: &str) -> String {
    const OPEN: [&str; 4] = ["(", "[", "\u{230a}", "\u{2308}"];
    const CLOSE: [&str; 4] = [")", "]", "\u{230b}", "\u{2309}"];
    const TALL: [&str; 5] = ["<mfrac", "<msqrt", "<mroot", "<mtable", "<munderover"];
    // Each bracket operator: where its start tag starts and ends, and whether it opens.
    let mut found: Vec<(usize, usize, bool)> = Vec::new();
    let mut at = 0;
    while let Some(p) = mathml[at..].find("<mo") {
        let start = at + p;
        at = start + 3;
        if !mathml[at..].starts_with([' ', '>']) {
            continue;
        }
        let Some(gt) = mathml[start..].find('>') else { break };
        let end = start + gt + 1;
        let Some(body) = mathml[end..].split_once("</mo>").map(|(b, _)| b) else { break };
        if OPEN.contains(&body) || CLOSE.contains(&body) {
            found.push((start, end, OPEN.contains(&body)));
        }
    }
    let mut open = Vec::new();
    let mut rigid = Vec::new();
    for (k, &(start, _, opens)) in found.iter().enumerate() {
        if opens {
            open.push(k);
        } else if let Some(o) = open.pop() {
            let inside = &mathml[found[o].1..start];
            if !TALL.iter().any(|t| inside.contains(t)) {
                rigid.extend([o, k]);
            }
        }
    }
    rigid.sort_unstable();
    let mut out = String::with_capacity(mathml.len() + 20 * rigid.len());
    let mut last = 0;
    for k in rigid {
        let (start, end, _) = found[k];
        let tag = &mathml[start..end];
        let form = ["prefix", "postfix"].into_iter().find(|f| tag.contains(&format!("form=\"{f}\"")));
        out.push_str(&mathml[last..start]);
        out.push_str("<mo stretchy=\"false\"");
        if let Some(f) = form {
            out.push_str(&format!(" form=\"{f}\""));
        }
        out.push('>');
        last = end;
    }
    out.push_str(&mathml[last..]);
    out
}

/// Whether converted MathML can go into the page. latex2mathml reports some failures inside an
/// `Ok` (`[PARSE ERROR: …]` text) and copies some input unescaped (`<mo><</mo>`, unquoted
/// `columnalign=left`, `&lang;`), either of which would make the page wrong or malformed.
fn usable(mathml: &str) -> bool {
    !mathml.contains("[PARSE ERROR") && well_formed(mathml)
}

/// A conservative check that `s` is balanced elements with quoted attributes and only character
/// references or XML's predefined entities.
pub(super) fn well_formed(s: &str) -> bool {
    let mut open: Vec<&str> = Vec::new();
    let mut rest = s;
    while let Some(i) = rest.find(['<', '&']) {
        let tail = &rest[i..];
        if tail.starts_with('&') {
            let Some(end) = tail.find(';') else { return false };
            if !reference(&tail[1..end]) {
                return false;
            }
            rest = &tail[end + 1..];
            continue;
        }
        let Some(end) = tail.find('>') else { return false };
        let tag = &tail[1..end];
        rest = &tail[end + 1..];
        if let Some(name) = tag.strip_prefix('/') {
            if open.pop() != Some(name) {
                return false;
            }
            continue;
        }
        let (tag, empty) = match tag.strip_suffix('/') {
            Some(t) => (t, true),
            None => (tag, false),
        };
        let (name, attrs) = tag.split_once(' ').unwrap_or((tag, ""));
        if !xml_name(name) || !attributes(attrs) {
            return false;
        }
        if !empty {
            open.push(name);
        }
    }
    open.is_empty()
}

fn xml_name(s: &str) -> bool {
    s.starts_with(|c: char| c.is_ascii_alphabetic())
        && s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':'))
}

fn reference(name: &str) -> bool {
    let digits = |d: &str, radix: u32| !d.is_empty() && d.chars().all(|c| c.is_digit(radix));
    matches!(name, "amp" | "lt" | "gt" | "quot" | "apos")
        || name.strip_prefix("#x").is_some_and(|d| digits(d, 16))
        || name.strip_prefix('#').is_some_and(|d| digits(d, 10))
}

/// `name="value"` pairs, values without markup.
fn attributes(mut attrs: &str) -> bool {
    loop {
        attrs = attrs.trim_start();
        if attrs.is_empty() {
            return true;
        }
        let Some((name, value)) = attrs.split_once("=\"") else { return false };
        let Some(end) = value.find('"') else { return false };
        if !xml_name(name) || value[..end].contains(['<', '&']) {
            return false;
        }
        attrs = &value[end + 1..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped() {
        assert_eq!(escape(r#"a < b & "c" > d"#), "a &lt; b &amp; &quot;c&quot; &gt; d");
    }

    #[test]
    fn text_with_digits_in_a_subscript_becomes_mathml() {
        let m = math(r"M_{\text{fp32}} = 4P", DisplayStyle::Block);
        assert!(m.starts_with("<math") && m.contains("<mn>32</mn>"), "{m}");
    }

    #[test]
    fn latex_the_converter_gets_wrong_falls_back_to_code() {
        for tex in
            [r"x < y", r"\begin{aligned} P &= 1 \\ &= 2 \end{aligned}", r"\left(a", r"\begin{align} a \end{align}"]
        {
            assert_eq!(math(tex, DisplayStyle::Inline), format!("<code class=\"tex\">{}</code>", escape(tex)));
            assert_eq!(content(tex), format!("<mtext class=\"tex\">{}</mtext>", escape(tex)));
        }
    }

    #[test]
    fn minus_is_a_minus_sign_and_long_numbers_are_grouped() {
        assert_eq!(content("1-x"), "<mn>1</mn><mo>\u{2212}</mo><mi>x</mi>");
        assert_eq!(content("15517753344B + 1024"), "<mn>15,517,753,344</mn><mi>B</mi><mo>+</mo><mn>1024</mn>");
        assert_eq!(content("0.5"), "<mn>0.5</mn>");
    }

    #[test]
    fn brackets_stretch_only_around_something_tall() {
        let m = content(r"L\left(4H^2 + 2H\right) + (a)");
        assert_eq!(m.matches("<mo stretchy=\"false\"").count(), 4, "{m}");
        assert!(m.contains("<mo stretchy=\"false\" form=\"prefix\">(</mo>"), "{m}");
        let m = content(r"\left(B \times \frac{H}{A}\right)");
        assert!(!m.contains("stretchy=\"false\""), "{m}");
        let m = content(r"\left[ a (b) \frac{1}{2} \right]");
        assert_eq!(m.matches("<mo stretchy=\"false\">").count(), 2, "{m}");
        assert!(m.contains("stretchy=\"true\" form=\"prefix\">[</mo>"), "{m}");
    }

    #[test]
    fn content_is_the_math_without_its_wrapper() {
        assert_eq!(content("2H"), "<mn>2</mn><mi>H</mi>");
    }

    #[test]
    fn well_formed_accepts_converter_output_and_rejects_broken_markup() {
        assert!(well_formed(r#"<math display="block"><mi>x</mi><mspace width="1em"/><mo>&#x2061;</mo></math>"#));
        for bad in
            ["<mo><</mo>", "<mtable columnalign=left></mtable>", "<mo>&lang;</mo>", "<mrow><mo>(</mro></mrow>", "<mi>"]
        {
            assert!(!well_formed(bad), "{bad}");
        }
    }
}
