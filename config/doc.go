// Package config loads and validates rpmirror's configuration file,
// mirrors.yaml: where rpmirror keeps its state, how it downloads, and for
// each repository the origin it copies and the mirrors it writes or probes.
//
// Load decodes the file strictly (an unknown key is a problem, not
// something ignored), fills in defaults and validates everything it can,
// including, unless LoadOptions.SkipFilesystem is set, that the directories
// rpmirror writes can be written and that the signing keys can be read.
// It reports every problem at once as an *Errors, one "FILE:LINE: what is
// wrong" per problem, which is what `rpmirror check` prints. A *Config it
// returns needs no further checking by its users.
//
// The keys of each mapping are the yaml tags of the struct it decodes
// into (Config, Download, Repo, Mirror, S3, ...), with their defaults,
// limits and checks in the same tags (schema.go lists them): adding a key
// is adding a tagged field, plus code in decode.go only for rules that
// involve several keys. docs/configuration.md documents every key.
package config
