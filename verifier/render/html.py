"""The verification report as one standalone HTML5 page for a receiving clerk.

No script, no external resource, inline CSS, print-friendly. Every value from
the report goes through :func:`html.escape`.
"""
from __future__ import annotations

import html
from collections.abc import Mapping
from typing import Any

from . import _common as c

_CSS = """
*{box-sizing:border-box}
body{margin:0;background:#f3f4f6;color:#1f2328;font:14.5px/1.45 "Liberation Sans",Arial,"DejaVu Sans",sans-serif}
.page{max-width:1040px;margin:0 auto;padding:24px 20px 40px}
h1{font:600 20px/1.3 "DejaVu Sans","Liberation Sans",Arial,sans-serif;margin:0 0 14px;color:#374151}
h2{font:600 17px/1.3 "DejaVu Sans","Liberation Sans",Arial,sans-serif;margin:0 0 10px}
.sec{font-size:.78em;font-weight:normal;color:#6b7280}
h1 .sec,h2 .sec{margin-left:.35em}
.banner{border-radius:10px;padding:18px 22px;color:#fff;margin-bottom:18px}
.banner .word{font:700 34px/1.15 "DejaVu Sans","Liberation Sans",Arial,sans-serif;letter-spacing:.5px}
.banner .word .sec{color:rgba(255,255,255,.85);font-size:.55em;font-weight:600;margin-left:.5em}
.banner ul{margin:10px 0 0;padding-left:20px}
.banner li{margin:3px 0}
.banner li .sec{color:rgba(255,255,255,.85);display:block}
.banner .file{margin-top:8px;font-size:.92em;opacity:.95;word-break:break-all}
.verdict-valid{background:#1e7e34}
.verdict-invalid{background:#c62828}
.verdict-indeterminate{background:#b26a00}
.verdict-unsigned{background:#5f6368}
.box{background:#fff;border:1px solid #d0d7de;border-radius:8px;padding:14px 18px;margin-bottom:16px}
table.kv{border-collapse:collapse;width:100%}
table.kv th{text-align:left;font-weight:normal;color:#4b5563;width:34%;padding:3px 12px 3px 0;vertical-align:top}
table.kv td{padding:3px 0;vertical-align:top;word-break:break-word}
table.kv th .sec{display:block;font-size:.72em;margin:0}
.mono{font-family:"DejaVu Sans Mono","Liberation Mono",monospace;font-size:.82em;word-break:break-all}
.chip{display:inline-block;border-radius:999px;padding:1px 10px;font:600 12.5px/1.6 "DejaVu Sans",Arial,sans-serif;color:#fff;white-space:nowrap}
.chip.valid{background:#1e7e34}.chip.invalid{background:#c62828}.chip.indeterminate{background:#b26a00}.chip.unsigned{background:#5f6368}
.chip.info{background:#e5e7eb;color:#374151}
.chip.warn{background:#fde68a;color:#7c2d12}
.ok{color:#1e7e34;font-weight:600}.bad{color:#c62828;font-weight:600}.unk{color:#b26a00;font-weight:600}
.d30{border-left:6px solid #5f6368}
.d30.valid{border-left-color:#1e7e34}.d30.invalid{border-left-color:#c62828}.d30.indeterminate{border-left-color:#b26a00}
.d30 .steps{display:flex;gap:12px;flex-wrap:wrap;margin-top:10px}
.d30 .step{flex:1 1 300px;border:1px solid #e5e7eb;border-radius:6px;padding:8px 12px;background:#fafafa}
.d30 .step .lbl{font-size:.9em;color:#4b5563}
.d30 .step .who{font-weight:600;margin-top:2px}
.timeline{position:relative;margin:0;padding:0 0 0 34px;list-style:none}
.timeline:before{content:"";position:absolute;left:12px;top:6px;bottom:6px;width:3px;background:#d0d7de}
.tl-item{position:relative;margin-bottom:16px}
.tl-dot{position:absolute;left:-31px;top:14px;width:21px;height:21px;border-radius:50%;border:3px solid #fff;box-shadow:0 0 0 2px #d0d7de;background:#5f6368}
.tl-dot.valid{background:#1e7e34}.tl-dot.invalid{background:#c62828}.tl-dot.indeterminate{background:#b26a00}
.tl-card{background:#fff;border:1px solid #d0d7de;border-radius:8px;overflow:hidden}
.tl-card.invalid{border-color:#e8a5a5}.tl-card.indeterminate{border-color:#e7c48c}
.tl-head{display:flex;justify-content:space-between;align-items:flex-start;gap:12px;padding:10px 16px;background:#f6f8fa;border-bottom:1px solid #e5e7eb}
.tl-head .kind{font:600 12.5px/1.4 "DejaVu Sans",Arial,sans-serif;text-transform:uppercase;color:#4b5563;letter-spacing:.3px}
.tl-head .who{font-size:1.2em;font-weight:700}
.tl-head .org{color:#374151}
.tl-body{padding:10px 16px 12px}
.reason{margin:4px 0 10px;padding:6px 10px;border-radius:6px;background:#f3f4f6}
.reason.invalid{background:#fdecea}.reason.indeterminate{background:#fff4e0}.reason.valid{background:#e8f5ec}
.reason .sec{display:block}
.cols{display:grid;grid-template-columns:1fr 1fr;gap:4px 28px}
@media (max-width:760px){.cols{grid-template-columns:1fr}}
table.grid{border-collapse:collapse;width:100%;margin-top:6px;font-size:.93em}
table.grid th,table.grid td{border:1px solid #e5e7eb;padding:4px 8px;text-align:left;vertical-align:top}
table.grid th{background:#f6f8fa;font-weight:600}
table.grid th .sec{display:block;font-weight:normal;font-size:.78em}
h3{font:600 14px/1.3 "DejaVu Sans",Arial,sans-serif;margin:12px 0 4px;color:#374151}
h3 .sec{margin-left:.35em}
ul.problems{margin:4px 0 8px;padding-left:20px}
ul.problems .sec{display:block}
details{margin-top:10px;border:1px solid #e5e7eb;border-radius:6px;padding:6px 10px;background:#fcfcfd}
summary{cursor:pointer;font:600 14px/1.6 "DejaVu Sans",Arial,sans-serif;color:#374151}
summary .sec{margin-left:.35em}
.d30 .step .lbl .sec{display:block}
.doc table.kv th{width:26%}
ol.chain{margin:8px 0 2px;padding-left:22px}
ol.chain li{margin-bottom:10px}
ol.chain .subj{font-weight:600}
ol.chain table.kv th{width:24%}
footer{color:#6b7280;font-size:.85em;margin-top:22px;text-align:center}
@media print{
 body{background:#fff;font-size:11pt}
 .page{max-width:none;padding:0}
 .banner,.chip,.tl-dot{-webkit-print-color-adjust:exact;print-color-adjust:exact}
 .tl-item,.box{break-inside:avoid}
 details::details-content{content-visibility:visible;display:block}
 details>*{display:block}
 summary{list-style:none}
}
"""


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


class _Page:
    def __init__(self, lang: str) -> None:
        self.lang = lang

    # bilingual helpers ------------------------------------------------------------------
    def bi(self, vi: str, en: str, *, sep: str = " ") -> str:
        primary, secondary = c.ordered(vi, en, self.lang)
        if primary == secondary:
            return _e(primary)
        return f'{_e(primary)}{sep}<span class="sec" lang="{"en" if self.lang == "vi" else "vi"}">{_e(secondary)}</span>'

    def t(self, key: str) -> str:
        vi, en = c.T[key]
        return self.bi(vi, en)

    def p(self, table: Mapping[Any, tuple[str, ...]], key: Any) -> str:
        vi, en = c.pair(table, key)
        return self.bi(vi, en, sep=" ")

    def one(self, vi: str, en: str) -> str:
        """Only the chosen language (for short values in tables)."""
        return _e(vi if self.lang == "vi" else en)

    def flag(self, value: Any) -> str:
        key = c.flag(value)
        css = {"yes": "ok", "no": "bad", "unknown": "unk"}[key]
        mark = {"yes": "✓", "no": "✗", "unknown": "?"}[key]
        vi, en = c.T[key]
        return f'<span class="{css}">{mark} {self.one(vi, en)}</span>'

    def kv(self, rows: list[tuple[str, str]]) -> str:
        body = "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in rows)
        return f'<table class="kv">{body}</table>'

    # sections -----------------------------------------------------------------------------
    def banner(self, data: Mapping[str, Any]) -> str:
        vi, en, css, _colour = c.headline(data)
        items = []
        for reason in data.get("reasons") or []:
            r_vi, r_en = c.reason_text(reason)
            items.append(f"<li>{self.bi(r_vi, r_en)}</li>")
        reasons = f"<ul>{''.join(items)}</ul>" if items else ""
        file_line = ""
        if data.get("file"):
            file_line = f'<div class="file">{self.one(*c.T["file"])}: <b>{_e(data["file"])}</b></div>'
        return (f'<section class="banner verdict-{css}" role="status">'
                f'<div class="word">{self.bi(vi, en, sep=" ")}</div>{reasons}{file_line}</section>')

    def document(self, data: Mapping[str, Any]) -> str:
        policy = data.get("policy") or {}
        policy_rows = "".join(f"<tr><td>{_e(k)}</td><td>{'<br>'.join(_e(x) for x in c.fmt_lines(v))}</td></tr>"
                              for k, v in sorted(policy.items(), key=lambda kv: str(kv[0])))
        policy_html = (f'<table class="grid">{policy_rows}</table>' if policy_rows else "—")
        last = data.get("last_revision_covered")
        rows = [
            (self.t("file"), _e(data.get("file") or "—")),
            (self.t("sha256"), f'<span class="mono">{_e(data.get("sha256") or "—")}</span>'),
            (self.t("size"), _e(c.fmt_size(data.get("size"), self.lang))),
            (self.t("revisions"), _e(data.get("revisions", "—"))),
            (self.t("last_covered"), self.flag(last) if data.get("signatures") else "—"),
            (self.t("validation_time"), _e(c.fmt_time(data.get("validation_time")))),
            (self.t("policy"), policy_html),
        ]
        return f'<section class="box doc"><h2>{self.t("document")}</h2>{self.kv(rows)}</section>'

    def decree30(self, data: Mapping[str, Any]) -> str:
        d30 = data.get("decree30")
        if not d30:
            return ""
        vi, en, css = c.DECREE30.get(d30.get("status"), (d30.get("status"), d30.get("status"), "unsigned"))
        r_vi, r_en = c.reason_text(d30.get("reason"))
        steps = []
        for key, field_key in (("d30_personal", "personal_field"), ("d30_agency", "agency_field")):
            name = d30.get(field_key)
            sig = c.find_field(data["signatures"], name)
            if name:
                signer = sig.get("signer") or {} if sig else {}
                who = _e(c.signer_label(sig)) if sig else _e(name)
                extra = []
                if signer.get("organization") and signer.get("organization") != c.signer_label(sig):
                    extra.append(_e(signer["organization"]))
                extra.append(f'{self.one(*c.T["field"])}: <span class="mono">{_e(name)}</span>')
                if sig:
                    i_vi, i_en, i_css = c.INDICATION.get(sig.get("indication"), ("?", "?", "unsigned"))
                    extra.append(f'<span class="chip {i_css}">{self.one(i_vi, i_en)}</span> '
                                 f'{_e(c.fmt_time(c.best_time(sig)))}')
                body = f'<div class="who">{who}</div><div>{"<br>".join(extra)}</div>'
            else:
                body = f'<div class="who bad">✗ {self.one(*c.T["d30_none"])}</div>'
            steps.append(f'<div class="step"><div class="lbl">{self.t(key)}</div>{body}</div>')
        return (f'<section class="box d30 {css}"><h2>{self.t("decree30")}</h2>'
                f'<div><span class="chip {css}">{self.one(vi, en)}</span></div>'
                f'<div class="reason {css}">{self.bi(r_vi, r_en)}</div>'
                f'<div class="steps">{"".join(steps)}</div></section>')

    def timeline(self, data: Mapping[str, Any]) -> str:
        sigs = data["signatures"]
        if not sigs:
            return (f'<section class="box"><h2>{self.t("timeline")}</h2>'
                    f'<p>{self.bi(*c.T["no_signatures"])}</p></section>')
        items = "".join(self.signature(n, sig) for n, sig in enumerate(sigs, 1))
        return f'<section><h2>{self.t("timeline")}</h2><ol class="timeline">{items}</ol></section>'

    def signature(self, n: int, sig: Mapping[str, Any]) -> str:
        i_vi, i_en, css = c.INDICATION.get(sig.get("indication"), (sig.get("indication"), sig.get("indication"), "unsigned"))
        k_vi, k_en = c.pair(c.KIND, sig.get("kind"))
        signer = sig.get("signer") or {}
        who = c.signer_label(sig)
        org = signer.get("organization")
        title = signer.get("title")
        sub = sig.get("sub_indication")
        chip = f'<span class="chip {css}">{self.one(i_vi, i_en)}</span>'
        head = (f'<div class="tl-head"><div><div class="kind">#{n} · {self.bi(k_vi, k_en, sep=" · ")}'
                f' · {self.one(*c.T["revision"])} {_e(sig.get("revision"))}</div>'
                f'<div class="who">{_e(who)}</div>'
                + (f'<div class="org">{_e(title) + " — " if title else ""}{_e(org)}</div>' if org else
                   (f'<div class="org">{_e(title)}</div>' if title else ""))
                + f'</div><div>{chip}</div></div>')

        r_vi, r_en = c.reason_text(sig.get("reason"))
        reason = f'<div class="reason {css}">{self.bi(r_vi, r_en)}</div>'
        problems = ""
        if sig.get("problems"):
            lis = "".join(f"<li>{self.bi(*c.reason_text(p))}</li>" for p in sig["problems"])
            problems = f'<h3>{self.t("problems")}</h3><ul class="problems">{lis}</ul>'

        # who / when
        ts = sig.get("timestamp")
        if ts:
            ts_html = (f'{_e(c.fmt_time(ts.get("time")))}<br><span class="sec">{self.one(*c.T["tsa"])}: '
                       f'{_e(ts.get("tsa") or "—")}</span><br>'
                       f'{self.one("Toàn vẹn", "Intact")} {self.flag(ts.get("intact"))} · '
                       f'{self.one("Hợp lệ", "Valid")} {self.flag(ts.get("valid"))} · '
                       f'{self.one("Tin cậy", "Trusted")} {self.flag(ts.get("trusted"))}')
        else:
            ts_html = f'<span class="unk">{self.one(*c.T["no_timestamp"])}</span>'
        cert = c.signer_cert(sig)
        when = c.validity_at(cert, c.best_time(sig))
        if when:
            w_vi, w_en, w_css = c.VALIDITY_AT[when]
            validity = (f'<span class="{ {"valid": "ok", "invalid": "bad"}[w_css] }">{self.one(w_vi, w_en)}</span> '
                        f'<span class="sec">({_e(c.fmt_time(cert.get("not_before")))} → '
                        f'{_e(c.fmt_time(cert.get("not_after")))})</span>')
        else:
            validity = "—"
        left = [
            (self.t("signer"), _e(who)),
            (self.t("organization"), _e(org or "—")),
            (self.t("job_title"), _e(title or "—")),
            (self.t("cert_type"), self.p(c.CERT_TYPE, signer.get("certificate_type")) if signer else "—"),
            (self.t("issuing_ca"), _e(signer.get("issuer") or (cert or {}).get("issuer") or "—")),
            (self.t("signing_time"), _e(c.fmt_time(sig.get("signing_time")))),
            (self.t("timestamp"), ts_html),
            (self.t("cert_valid_at"), validity),
        ]
        # checks
        rev = sig.get("revocation") or {}
        rv_vi, rv_en, rv_css = c.REVOCATION.get(rev.get("status"), (rev.get("status"), rev.get("status"), "indeterminate"))
        rev_parts = [f'<span class="chip {rv_css}">{self.one(rv_vi, rv_en)}</span>']
        if rev.get("source"):
            rev_parts.append(_e(self.one(*c.pair(c.REVOCATION_SOURCE, rev["source"]))))
        if rev.get("revoked_at"):
            rev_parts.append(f'{self.one(*c.T["revoked_at"])}: {_e(c.fmt_time(rev["revoked_at"]))}')
        if rev.get("checked_at"):
            rev_parts.append(f'<span class="sec">{self.one(*c.T["checked_at"])}: {_e(c.fmt_time(rev["checked_at"]))}</span>')
        if rev.get("detail"):
            rev_parts.append(f'<span class="sec">{_e(rev["detail"])}</span>')
        algs = " · ".join(_e(a) for a in (sig.get("digest_algorithm"), sig.get("signature_algorithm")) if a) or "—"
        sub_html = "—"
        if sub:
            s_vi, s_en = c.pair(c.SUB_INDICATION, sub)
            sub_html = f'<span class="mono">{_e(sub)}</span><br><span class="sec">{self.one(s_vi, s_en)}</span>'
        right = [
            (self.t("indication"), f'<span class="mono">{_e(sig.get("indication"))}</span>'),
            (self.t("sub_indication"), sub_html),
            (self.t("intact"), self.flag(sig.get("intact"))),
            (self.t("crypto_valid"), self.flag(sig.get("crypto_valid"))),
            (self.t("trusted"), self.flag(sig.get("trusted"))),
            (self.t("coverage"), self.p(c.COVERAGE, sig.get("coverage"))),
            (self.t("revocation"), "<br>".join(rev_parts)),
            (self.t("level"), _e(sig.get("level") or "—")
             + (f' <span class="sec">({_e(sig["subfilter"])})</span>' if sig.get("subfilter") else "")),
            (self.t("algorithms"), algs),
        ]
        if sig.get("docmdp"):
            right.append((self.t("docmdp"), f'P={_e(sig["docmdp"])} · ' + _e(self.one(*c.pair(c.DOCMDP, sig["docmdp"])))))
        byte_range = " ".join(str(x) for x in sig.get("byte_range") or [])
        right.append((self.t("field"), (f'<span class="mono">{_e(sig.get("field"))}</span>'
                                        f' <span class="sec">ByteRange [{_e(byte_range)}]</span>')))
        cols = f'<div class="cols"><div>{self.kv(left)}</div><div>{self.kv(right)}</div></div>'

        body = reason + problems + cols + self.modifications(sig) + self.chain(sig)
        return (f'<li class="tl-item"><span class="tl-dot {css}"></span>'
                f'<article class="tl-card {css}">{head}<div class="tl-body">{body}</div></article></li>')

    def modifications(self, sig: Mapping[str, Any]) -> str:
        changes = sig.get("modifications_after") or []
        title = f'<h3>{self.t("modifications")}</h3>'
        if not changes:
            return f'{title}<div>{self.one(*c.T["no_modifications"])}</div>'
        rows = []
        for ch in changes:
            allowed = c.change_permitted(ch)
            why = []
            if not ch.get("permitted_by_docmdp", True):
                why.append(self.one("trái DocMDP", "breaks DocMDP"))
            if not ch.get("permitted_by_policy", True):
                why.append(self.one("trái chính sách", "breaks the policy"))
            mark = (f'<span class="ok">✓ {self.one(*c.T["yes"])}</span>' if allowed else
                    f'<span class="bad">✗ {self.one(*c.T["no"])}</span>'
                    + (f'<br><span class="sec">{_e(", ".join(why))}</span>' if why else ""))
            objects = ", ".join(str(o) for o in ch.get("objects") or [])
            rows.append(f'<tr><td>{_e(ch.get("revision"))}</td><td>{self.p(c.CHANGE, ch.get("category"))}</td>'
                        f'<td>{_e(ch.get("description"))}'
                        + (f'<br><span class="mono sec">{_e(objects)}</span>' if objects else "")
                        + f'</td><td>{mark}</td></tr>')
        head = "".join(f"<th>{self.t(k)}</th>" for k in ("revision", "category", "description", "permitted"))
        return f'{title}<table class="grid"><tr>{head}</tr>{"".join(rows)}</table>'

    def chain(self, sig: Mapping[str, Any]) -> str:
        chain = sig.get("chain") or []
        signer_sha = (sig.get("signer") or {}).get("sha256")
        n = len(chain)
        summary = f'<summary>{self.t("cert_path")} ({n})</summary>'
        if not chain:
            return f'<details>{summary}<p>{self.one(*c.T["no_chain"])}</p></details>'
        items = []
        for cert in chain:
            badges = []
            if signer_sha and cert.get("sha256") == signer_sha:
                badges.append(f'<span class="chip info">{self.one(*c.T["signer_cert"])}</span>')
            if cert.get("is_trust_anchor"):
                badges.append(f'<span class="chip valid">⚓ {self.one(*c.T["trust_anchor"])}</span>')
            if c.is_sha1(cert.get("signature_algorithm")):
                badges.append(f'<span class="chip warn">⚠ {self.one(*c.T["sha1_signed"])}</span>')
            rows = [
                (self.t("subject"), _e(cert.get("subject"))),
                (self.t("issuer"), _e(cert.get("issuer"))),
                (self.t("validity"), f'{_e(c.fmt_time(cert.get("not_before")))} → {_e(c.fmt_time(cert.get("not_after")))}'),
                (self.t("serial"), f'<span class="mono">{_e(c.group_hex(cert.get("serial")))}</span>'),
                (self.t("sha256"), f'<span class="mono">{_e(c.group_hex(cert.get("sha256")))}</span>'),
                (self.t("sig_alg"), _e(cert.get("signature_algorithm"))),
            ]
            name = (cert.get("subject_fields") or {}).get("common_name") or cert.get("subject")
            items.append(f'<li><div class="subj">{_e(name)} {" ".join(badges)}</div>{self.kv(rows)}</li>')
        ku = (sig.get("signer") or {}).get("key_usage") or []
        ku_html = (f'<p>{self.one(*c.T["key_usage"])}: {_e(", ".join(ku))}</p>' if ku else "")
        return f'<details>{summary}<ol class="chain">{"".join(items)}</ol>{ku_html}</details>'

    def render(self, data: Mapping[str, Any]) -> str:
        vi, en, _css, _colour = c.headline(data)
        title_p, _ = c.ordered(*c.T["title"], self.lang)
        verdict_p, _ = c.ordered(vi, en, self.lang)
        doc_title = f'{title_p}: {verdict_p}' + (f' — {data["file"]}' if data.get("file") else "")
        duration = data.get("duration_ms")
        footer = (f'{self.bi(*c.T["generated_by"], sep=" · ")} · schema {_e(data.get("schema"))}'
                  + (f' · {_e(duration)} ms' if duration else ""))
        return ("<!DOCTYPE html>\n"
                f'<html lang="{self.lang}"><head><meta charset="utf-8">'
                '<meta name="viewport" content="width=device-width, initial-scale=1">'
                f"<title>{_e(doc_title)}</title><style>{_CSS}</style></head>"
                f'<body><main class="page"><h1>{self.t("title")}</h1>'
                f"{self.banner(data)}{self.decree30(data)}{self.timeline(data)}{self.document(data)}"
                f"<footer>{footer}</footer></main></body></html>\n")


def to_html(report: Mapping[str, Any], *, lang: str = "vi") -> str:
    """The report as a standalone HTML5 page (UTF-8, inline CSS, no script, no external resource)."""
    c.check_lang(lang)
    return _Page(lang).render(c.load(report))
