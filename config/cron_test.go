package config

import (
	"testing"

	"github.com/robfig/cron/v3"
)

func TestValidateCron(t *testing.T) {
	tests := []struct {
		spec string
		want string // "" when valid
	}{
		{"*/15 * * * *", ""},
		{"0 3 * * MON-FRI", ""},
		{"30 */6 1,15 JAN,JUL *", ""},
		{"@hourly", ""},
		{"@midnight", ""},
		{"@every 15m", ""},
		{"@every 1s", ""},
		{"@every 1h30m", ""},
		{"CRON_TZ=UTC 0 3 * * *", ""},
		{"TZ=UTC @daily", ""},

		{"", "empty schedule"},
		{"   ", "empty schedule"},
		{"*/15 * *", "expected 5 fields, found 3 (minute hour day-of-month month day-of-week)"},
		{"0 */15 * * * *", "expected 5 fields, found 6 (minute hour day-of-month month day-of-week)"},
		{"CRON_TZ=UTC", "CRON_TZ=UTC must be followed by a schedule"},
		{"TZ=Mars/Olympus_Mons * * * * *", `unknown time zone "Mars/Olympus_Mons"`},
		{"@every 500ms", "the @every interval must be at least 1s"},
		{"@every 0s", "the @every interval must be at least 1s"},
		{"@every -5m", "the @every interval must be at least 1s"},
		{"@every 1.5s", "the @every interval must be a whole number of seconds"},
		{"@every 1d", `the @every interval: unknown unit "d" (valid units: ns, us, ms, s, m, h; for example 90s, 15m, 24h)`},
		{"@every", "@every needs a duration, for example @every 15m"},
		{"@fortnightly", `unknown descriptor "@fortnightly" (valid: @yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly, @every DURATION)`},
		{"@hourly ", `unknown descriptor "@hourly " (valid: @yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly, @every DURATION)`},
		{"60 * * * *", "end of range (60) above maximum (59): 60"},
		{"x * * * *", `"x" is not a number (or a month or weekday name)`},
		{" @hourly", "expected 5 fields, found 1 (minute hour day-of-month month day-of-week)"},
	}
	for _, tc := range tests {
		t.Run(tc.spec, func(t *testing.T) {
			err := ValidateCron(tc.spec)
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tc.want {
				t.Errorf("ValidateCron(%q) = %q, want %q", tc.spec, got, tc.want)
			}
		})
	}
}

// FuzzValidateCron checks that ValidateCron never panics and accepts only
// what the daemon's parser accepts.
func FuzzValidateCron(f *testing.F) {
	for _, s := range []string{"*/15 * * * *", "@every 15m", "CRON_TZ=UTC", "CRON_TZ=UTC 0 3 * * *", "TZ= @daily", "@every 500ms", "0-70/0 * * * *"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		if ValidateCron(spec) != nil {
			return
		}
		if _, err := cron.ParseStandard(spec); err != nil {
			t.Errorf("ValidateCron(%q) = nil but cron.ParseStandard fails: %v", spec, err)
		}
	})
}
