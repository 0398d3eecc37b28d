package config

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// descriptors are the named schedules robfig/cron's standard parser knows,
// besides "@every DURATION".
var descriptors = []string{"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"}

// ValidateCron reports whether spec is a schedule that cron.ParseStandard
// accepts and that means what it says:
//
//   - five fields: minute hour day-of-month month day-of-week ("*/15 * * * *");
//   - a descriptor: @yearly (@annually), @monthly, @weekly, @daily
//     (@midnight), @hourly, or "@every DURATION" with a Go duration of at
//     least one second and a whole number of seconds ("@every 15m");
//   - either may be prefixed with "CRON_TZ=Zone " (or "TZ=Zone ") naming an
//     IANA time zone.
//
// It is stricter than cron.ParseStandard, which turns "@every 500ms" and
// "@every 0s" into every second, and it recovers the panic ParseStandard
// has for a spec of only "CRON_TZ=Zone". A spec it accepts is accepted by
// cron.ParseStandard unchanged.
func ValidateCron(spec string) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = errors.New("not a valid schedule")
		}
	}()
	if strings.TrimSpace(spec) == "" {
		return errors.New("empty schedule")
	}
	s := spec
	if strings.HasPrefix(s, "TZ=") || strings.HasPrefix(s, "CRON_TZ=") {
		prefix, zone, _ := strings.Cut(s, "=")
		sp := strings.Index(zone, " ")
		if sp < 0 {
			return fmt.Errorf("%s=%s must be followed by a schedule", prefix, zone)
		}
		zone, s = zone[:sp], strings.TrimSpace(zone[sp:])
		if _, err := time.LoadLocation(zone); err != nil {
			return fmt.Errorf("unknown time zone %q", zone)
		}
	}
	switch {
	case s == "@every":
		return errors.New("@every needs a duration, for example @every 15m")
	case strings.HasPrefix(s, "@every "):
		d, err := time.ParseDuration(s[len("@every "):])
		switch {
		case err != nil:
			return fmt.Errorf("the @every interval: %s", durationProblem(err))
		case d < time.Second:
			return errors.New("the @every interval must be at least 1s")
		case d%time.Second != 0:
			return errors.New("the @every interval must be a whole number of seconds")
		}
	case strings.HasPrefix(s, "@"):
		known := false
		for _, desc := range descriptors {
			known = known || s == desc
		}
		if !known {
			return fmt.Errorf("unknown descriptor %q (valid: %s, @every DURATION)", s, strings.Join(descriptors, ", "))
		}
	default:
		if n := len(strings.Fields(s)); n != 5 {
			return fmt.Errorf("expected 5 fields, found %d (minute hour day-of-month month day-of-week)", n)
		}
	}
	if _, err := cron.ParseStandard(spec); err != nil {
		// "failed to parse int from x: strconv.Atoi: ..." says more than
		// a person needs.
		if rest, ok := strings.CutPrefix(err.Error(), "failed to parse int from "); ok {
			expr, _, _ := strings.Cut(rest, ": ")
			return fmt.Errorf("%q is not a number (or a month or weekday name)", expr)
		}
		return err
	}
	return nil
}
