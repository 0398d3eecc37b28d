package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// The man page and the completion scripts are generated from the commands
// table and from each command's own FlagSet, the one its -h prints: there
// is no second list of flags to keep in step.

// flagCollector is the stderr handed to a command to learn its flags:
// flags() records the FlagSet it makes there, and the command, run with
// -h, stops in parseFlags with flag.ErrHelp as it does for a user asking
// for help, before it does anything.
type flagCollector struct {
	fs *flag.FlagSet
}

func (*flagCollector) Write(p []byte) (int, error) { return len(p), nil }

// commandInfo is a command as the man page and the completion show it.
type commandInfo struct {
	Name    string
	Summary string
	Flags   []flagInfo
}

// flagInfo is one flag of a command.
type flagInfo struct {
	Name    string   // without dashes: "c", "repo"
	Arg     string   // the placeholder of its value ("FILE", "NAME", "N"); "" for a boolean flag
	Usage   string   // the help text, as -h prints it
	Default string   // the default when it is not the zero value, else ""
	Repeat  bool     // may be given more than once
	Choices []string // the values it accepts, when they are a fixed set
}

// Dash is the flag as the documentation writes it: a one-letter flag with
// one dash (-c), a longer one with two (--repo). Go's flag package accepts
// either form for both.
func (f flagInfo) Dash() string {
	if len(f.Name) == 1 {
		return "-" + f.Name
	}
	return "--" + f.Name
}

// describeCommands returns every command that is not hidden, with its flags
// in the order -h lists them (sorted by name).
func describeCommands() ([]commandInfo, error) {
	var out []commandInfo
	for _, c := range commands {
		fs, err := commandFlags(c)
		if err != nil {
			return nil, err
		}
		ci := commandInfo{Name: c.name, Summary: c.summary}
		fs.VisitAll(func(f *flag.Flag) { ci.Flags = append(ci.Flags, describeFlag(f)) })
		out = append(out, ci)
	}
	return out, nil
}

// commandFlags returns the FlagSet command c parses, by running it with -h
// and a flagCollector as its stderr. The context is cancelled beforehand,
// so that a command that did start work would stop at once.
func commandFlags(c command) (*flag.FlagSet, error) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	fc := &flagCollector{}
	err := c.run(ctx, []string{"-h"}, io.Discard, fc)
	if fc.fs == nil || !errors.Is(err, flag.ErrHelp) {
		return nil, fmt.Errorf("describing command %q: it did not stop at -h in parseFlags (err %v)", c.name, err)
	}
	return fc.fs, nil
}

func describeFlag(f *flag.Flag) flagInfo {
	arg, usage := flag.UnquoteUsage(f)
	fi := flagInfo{Name: f.Name, Arg: strings.ToUpper(arg), Usage: usage}
	if b, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && b.IsBoolFlag() {
		fi.Arg = ""
	}
	switch v := f.Value.(type) {
	case *stringList:
		fi.Repeat = true
	case *choiceFlag:
		fi.Choices = v.choices
	}
	switch f.DefValue {
	case "", "0", "0s", "false":
	default:
		fi.Default = f.DefValue
	}
	return fi
}

// choiceFlag is a string flag that accepts one of a fixed set of values,
// which the completion offers.
type choiceFlag struct {
	value   string
	choices []string
}

// choice defines a flag that takes one of choices, def by default.
func choice(fs *flag.FlagSet, name, def, usage string, choices ...string) *string {
	c := &choiceFlag{value: def, choices: choices}
	fs.Var(c, name, usage)
	return &c.value
}

func (c *choiceFlag) String() string {
	if c == nil {
		return ""
	}
	return c.value
}

func (c *choiceFlag) Set(v string) error {
	for _, ok := range c.choices {
		if v == ok {
			c.value = v
			return nil
		}
	}
	return fmt.Errorf("want one of %s", strings.Join(c.choices, ", "))
}

// atLeastFlag is an integer flag with a least value: a value below it is a
// usage error naming the flag, not quietly replaced (sync --parallel 0
// synced one repository at a time, status --runs -1 showed no run).
type atLeastFlag struct {
	value, min int
}

// intAtLeast defines an integer flag of at least min, def by default.
func intAtLeast(fs *flag.FlagSet, name string, def, min int, usage string) *int {
	f := &atLeastFlag{value: def, min: min}
	fs.Var(f, name, usage)
	return &f.value
}

func (f *atLeastFlag) String() string {
	if f == nil {
		return "0"
	}
	return strconv.Itoa(f.value)
}

func (f *atLeastFlag) Set(v string) error {
	n, err := strconv.Atoi(v)
	if err != nil {
		return errors.New("want a whole number")
	}
	if n < f.min {
		return fmt.Errorf("want %d or more", f.min)
	}
	f.value = n
	return nil
}

// durationFlag is a duration flag that is not negative.
type durationFlag struct{ value time.Duration }

// nonNegativeDuration defines a duration flag that refuses a negative
// value, def by default.
func nonNegativeDuration(fs *flag.FlagSet, name string, def time.Duration, usage string) *time.Duration {
	f := &durationFlag{value: def}
	fs.Var(f, name, usage)
	return &f.value
}

func (f *durationFlag) String() string {
	if f == nil {
		return "0s"
	}
	return f.value.String()
}

func (f *durationFlag) Set(v string) error {
	d, err := time.ParseDuration(v)
	if err != nil {
		return errors.New("want a duration such as 30s or 2m")
	}
	if d < 0 {
		return errors.New("want 0 or more")
	}
	f.value = d
	return nil
}
