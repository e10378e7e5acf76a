//go:build etcd

// Embedded etcd v3.6.x server (the version k8s.io/kubernetes v1.34 pins) as "k8s etcd [etcd flags]".
// The lab always builds with -tags etcd: Debian's etcd 3.4 is too old for 1.34's progress-notify checks.
package main

import "go.etcd.io/etcd/server/v3/etcdmain"

func init() { extra["etcd"] = etcdmain.Main }
