// Package dist holds what installs rpmirror the way mirror operators
// install software: the RPM spec (rpmirror.spec, built by make rpm with
// mkrpm.sh), the systemd units, the sysusers.d entry and the configuration
// the package installs as /etc/rpmirror/mirrors.yaml. Its tests build the
// RPM with rpmbuild, install it into a scratch root and check what landed.
// There is no Go code to import here.
package dist
