package server

import (
	"html/template"
	"sync"
	"time"
)

// statusPage is the /status page's template, parsed when the page is
// first asked for, not when the package loads: every rpmirror command,
// rpmirror sync included, would pay for the parse.
var statusPage = sync.OnceValue(parseStatusPage)

// parseStatusPage parses the status page; a bad template panics (the
// tests render it).
func parseStatusPage() *template.Template {
	return template.Must(template.New("status").Funcs(template.FuncMap{
		"ago": func(t time.Time) string {
			if t.IsZero() {
				return "never"
			}
			d := time.Since(t)
			if d < 0 {
				return "in " + (-d).Round(time.Second).String()
			}
			return d.Round(time.Second).String() + " ago"
		},
		"revision": revisionHTML,
		"lag": func(secs *float64) string {
			if secs == nil {
				return ""
			}
			return (time.Duration(*secs) * time.Second).Round(time.Second).String()
		},
		"stamp": func(t time.Time) string {
			if t.IsZero() {
				return ""
			}
			return t.UTC().Format(time.RFC3339)
		},
	}).Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="refresh" content="30">
<title>rpmirror status</title>
<style>
body { font-family: system-ui, sans-serif; margin: 1.5em; color: #222; }
h1 { font-size: 1.4em; } h2 { font-size: 1.15em; margin-top: 1.6em; }
table { border-collapse: collapse; margin: .4em 0; }
th, td { text-align: left; padding: .25em .8em; border-bottom: 1px solid #ddd; vertical-align: top; }
.state { font-weight: bold; padding: .1em .5em; border-radius: .3em; }
.ok { background: #d4f4d4; } .behind { background: #e4f0d0; } .stale { background: #fff2c0; } .down, .failed { background: #ffd0d0; } .unknown, .skipped { background: #e8e8e8; }
.muted { color: #777; } code { font-size: .95em; }
#summary { padding: .6em 1em; border-radius: .4em; background: #eef6ee; border: 1px solid #cde3cd; line-height: 1.9; }
#summary.attention { background: #fff0f0; border-color: #f0c8c8; }
#reload-error { padding: .6em 1em; margin-bottom: .6em; border-radius: .4em; background: #fff0f0; border: 1px solid #f0c8c8; }
#summary .count { font-weight: bold; }
</style>
</head>
<body>
<h1>rpmirror status</h1>
<p class="muted">Generated {{stamp .Generated}}. This page refreshes every 30 seconds; <a href="/status.json">status.json</a> has the same data.</p>
{{with .ReloadError}}<section id="reload-error" class="attention">the configuration file did not load when read again {{ago .At}}: running the configuration loaded before it<ul>{{range .Problems}}<li>{{.}}</li>{{end}}</ul></section>
{{end}}{{with .Summary}}<section id="summary"{{if .Attention}} class="attention"{{end}}>
<span class="count" id="summary-repos">{{.Repos}}</span> repositories, <span class="count" id="summary-mirrors">{{.Mirrors}}</span> mirrors:
{{range .ByState}}<span class="state {{.State}}" data-state="{{.State}}"><span class="count">{{.Count}}</span> {{.State}}</span> {{end}}<br>
<span class="count" id="summary-origins-down">{{.OriginsDown}}</span> origins down{{if .UpstreamsDown}} (<span class="count" id="summary-upstreams-down">{{.UpstreamsDown}}</span> upstreams down, syncs failing over){{end}}, <span class="count" id="summary-failed-syncs">{{.FailedSyncs}}</span> failed syncs, <span class="count" id="summary-syncing">{{.Syncing}}</span> syncing
{{if .Attention}}<br>needs attention: {{range $i, $n := .Attention}}{{if $i}}, {{end}}<a class="attention" href="#{{$n}}">{{$n}}</a>{{end}}{{end}}
</section>{{end}}
{{range .Repos}}
<h2 id="{{.Name}}">{{.Name}}</h2>
<table>
<tr><th>origin</th><td><span class="state {{.OriginState}}">{{.OriginState}}</span> <code>{{.Origin}}</code>{{if .OriginReason}} — {{.OriginReason}}{{end}} <span class="muted">checked {{ago .OriginChecked}}</span></td></tr>
{{if gt (len .Upstreams) 1}}<tr><th>upstreams</th><td><table class="upstreams">
{{range .Upstreams}}<tr><td><span class="state {{.State}}">{{.State}}</span></td><td><code>{{.URL}}</code>{{if .Reason}}<br><span class="muted">{{.Reason}}</span>{{end}}</td><td>{{with .Revision}}{{revision .}}{{end}}</td><td>{{if .LatencyMS}}{{printf "%.0f" .LatencyMS}} ms{{end}}</td><td class="muted">checked {{ago .Checked}}</td></tr>
{{end}}</table></td></tr>{{end}}
<tr><th>revision</th><td>current verified: {{with .CurrentRevision}}{{revision .}}{{else}}none yet{{end}}{{if not .CurrentVerified.IsZero}} <span class="muted">verified {{ago .CurrentVerified}}</span>{{end}}; origin serves {{with .Revision}}{{revision .}}{{else}}unknown{{end}}{{if .OriginNote}}<br><span class="state stale">{{.OriginNote}}</span>{{end}}</td></tr>
{{$repo := .Name}}{{with .Held}}<tr><th>held</th><td><span class="state stale">HELD</span> at snapshot {{.Snapshot}} (revision {{revision .Revision}}) by {{.By}} since {{ago .Since}}: no sync moves it forward until <code>rpmirror resume -c FILE --repo {{$repo}}</code></td></tr>{{end}}
<tr><th>mirror lists</th><td>{{.Listed}} mirror(s) listed — <a href="/mirrorlist?repo={{.Name}}">mirrorlist</a>, <a href="/metalink?repo={{.Name}}">metalink</a>{{if eq .Listed 0}} <span class="state down">no mirror can be listed (none is up and serving a verified revision): see the lists for whether clients are sent to the origin</span>{{end}}</td></tr>
<tr><th>sync</th><td>{{if .Syncing}}<span class="state ok">running</span> {{end}}{{with .LastSync}}last <span class="state {{if eq .Result "failed"}}failed{{else if eq .Result "skipped"}}skipped{{else}}ok{{end}}">{{.Result}}</span> {{ago .Start}}, {{printf "%.1f" .Seconds}}s, fetched {{.Fetched}} packages{{with .FromMirror}}, the origin down: the current verified revision taken from mirror {{.}} on this machine{{end}}{{if .Error}} — {{.Error}}{{end}}{{else}}none yet{{end}}<br>
last success {{ago .LastSuccess}}; next {{ago .NextSync}}</td></tr>
</table>
<table>
<tr><th>mirror</th><th>state</th><th>latency</th><th>checked</th><th>revision</th><th>lag</th><th>priority</th><th>url</th></tr>
{{range .Mirrors}}<tr><td>{{.Name}}{{if .Written}} <span class="muted">(written)</span>{{end}}{{with .Lease}}<br><span class="muted">lease: {{if .Error}}unknown: {{.Error}}{{else if .Held}}held by <b>{{.Holder}}</b>{{if .Mine}} (this rpmirror){{end}}{{else}}free{{with .Holder}}, last held by {{.}}{{end}}{{end}}</span>{{end}}</td><td><span class="state {{.State}}">{{.State}}</span>{{if .Reason}}<br><span class="muted">{{.Reason}}</span>{{end}}</td><td>{{if .LatencyMS}}{{printf "%.0f" .LatencyMS}} ms{{end}}</td><td>{{ago .Checked}}</td><td>{{revision .Revision}}</td><td>{{lag .LagSeconds}}</td><td>{{.Priority}}</td><td><code>{{.URL}}</code></td></tr>
{{end}}</table>
{{if .Failures}}<table><tr><th colspan="3">recent failures</th></tr>
{{range .Failures}}<tr><td>{{stamp .Time}}</td><td>{{.What}}</td><td>{{.Error}}</td></tr>
{{end}}</table>{{end}}
{{else}}<p>No repositories configured.</p>{{end}}
</body>
</html>
`))
}
