import type { RuleCheck } from "../../core/rules/rules.js";

/**
 * Removes what XML 1.0 cannot carry: every code point outside `#x9 | #xA | #xD | [#x20-#xD7FF] |
 * [#xE000-#xFFFD] | [#x10000-#x10FFFF]` (control characters, lone surrogates, U+FFFE/U+FFFF)
 * becomes U+FFFD, so a hostile value still shows where it was.
 */
export function xmlSafeText(text: string): string {
  let out = "";
  for (const ch of text) {
    const cp = ch.codePointAt(0)!;
    const ok = cp === 0x9 || cp === 0xa || cp === 0xd || (cp >= 0x20 && cp <= 0xd7ff) || (cp >= 0xe000 && cp <= 0xfffd) || cp >= 0x10000;
    out += ok ? ch : "\uFFFD";
  }
  return out;
}

/** Escapes text for XML character data: `& < >` (and quotes, harmlessly), invalid characters replaced. */
export function escapeXmlText(text: string): string {
  return xmlSafeText(text).replace(/[&<>"']/g, (ch) => XML_ENTITIES[ch]!);
}

/**
 * Escapes text for a double-quoted XML attribute: `& < > " '`, and tab, line feed and carriage
 * return as character references, since attribute-value normalisation would turn them into
 * spaces; invalid characters replaced.
 */
export function escapeXmlAttr(text: string): string {
  return xmlSafeText(text).replace(/[&<>"'\t\n\r]/g, (ch) => XML_ENTITIES[ch]!);
}

const XML_ENTITIES: Readonly<Record<string, string>> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&apos;",
  "\t": "&#9;",
  "\n": "&#10;",
  "\r": "&#13;",
};

/** What {@link renderJUnit} reports. */
export interface JUnitReport {
  /** The test suite's name: the rule pack's. */
  readonly suite: string;
  /** Every testcase's `classname`: the experiment id. */
  readonly classname: string;
  readonly checks: readonly RuleCheck[];
  /** Extra `<property>` entries of the suite (e.g. the experiment id and the pack's source). */
  readonly properties?: Readonly<Record<string, string>>;
}

function valueText(v: RuleCheck["value"]): string {
  return v === null ? "(missing)" : String(v);
}

/**
 * JUnit XML for a rules validation: a `<testsuites>` root holding one `<testsuite>` (name = the
 * rule pack, with `tests` and `failures` counts), one `<testcase>` per check (name = the check's
 * label), a failing check carrying a `<failure>` whose `message` and text are its detail. Passing
 * checks put their detail in `<system-out>`. Every text is escaped; see {@link escapeXmlAttr}.
 */
export function renderJUnit(report: JUnitReport): string {
  const tests = report.checks.length;
  const failures = report.checks.filter((c) => !c.passed).length;
  const a = escapeXmlAttr;
  const lines = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="expflow audit" tests="${tests}" failures="${failures}" errors="0">`,
    `  <testsuite name="${a(report.suite)}" tests="${tests}" failures="${failures}" errors="0" skipped="0">`,
  ];
  const props = Object.entries(report.properties ?? {});
  if (props.length > 0) {
    lines.push("    <properties>");
    for (const [k, v] of props) lines.push(`      <property name="${a(k)}" value="${a(v)}"/>`);
    lines.push("    </properties>");
  }
  for (const c of report.checks) {
    const open = `    <testcase classname="${a(report.classname)}" name="${a(c.label)}">`;
    const value = `value: ${valueText(c.value)}`;
    if (c.passed) {
      lines.push(open, `      <system-out>${escapeXmlText(`${value}\n${c.detail}`)}</system-out>`, "    </testcase>");
    } else {
      lines.push(
        open,
        `      <failure message="${a(c.detail)}" type="${a(c.name)}">${escapeXmlText(`${c.detail}\n${value}`)}</failure>`,
        "    </testcase>",
      );
    }
  }
  lines.push("  </testsuite>", "</testsuites>");
  return `${lines.join("\n")}\n`;
}
