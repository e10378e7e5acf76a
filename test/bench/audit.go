package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// auditEvent is the part of an audit.k8s.io/v1 Event the count needs.
type auditEvent struct {
	AuditID    string    `json:"auditID"`
	Stage      string    `json:"stage"`
	Verb       string    `json:"verb"`
	RequestURI string    `json:"requestURI"`
	UserAgent  string    `json:"userAgent"`
	Received   time.Time `json:"requestReceivedTimestamp"`
	ObjectRef  *struct {
		Resource    string `json:"resource"`
		Subresource string `json:"subresource"`
	} `json:"objectRef"`
}

// requests counts the requests in the lab's audit log (and its rotated
// backups) received in [from, to] from clients whose user agent starts with
// agent, by "verb resource"; discovery and other non-resource requests count
// as "get discovery".
func (b *bench) requests(agent string, from, to time.Time) (map[string]int, error) {
	files, _ := filepath.Glob(strings.TrimSuffix(b.auditLog, ".log") + "-*.log")
	files = append(files, b.auditLog)
	seen := map[string]bool{}
	counts := map[string]int{}
	for _, name := range files {
		f, err := os.Open(name)
		if err != nil {
			return nil, fmt.Errorf("audit log: %w (the lab's API server writes it since this version of lab/up.sh: make lab-down lab-up)", err)
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 1<<20), 16<<20)
		for sc.Scan() {
			line := sc.Bytes()
			if !bytes.Contains(line, []byte(agent)) { // most lines: no JSON decode
				continue
			}
			var e auditEvent
			if err := json.Unmarshal(line, &e); err != nil || !strings.HasPrefix(e.UserAgent, agent) || seen[e.AuditID] {
				continue
			}
			if e.Received.Before(from) || e.Received.After(to) {
				continue
			}
			seen[e.AuditID] = true
			counts[requestKind(e)]++
		}
		f.Close()
		if err := sc.Err(); err != nil {
			return nil, err
		}
	}
	return counts, nil
}

func requestKind(e auditEvent) string {
	if e.ObjectRef == nil || e.ObjectRef.Resource == "" {
		return "get discovery"
	}
	r := e.ObjectRef.Resource
	if e.ObjectRef.Subresource != "" {
		r += "/" + e.ObjectRef.Subresource
	}
	return e.Verb + " " + r
}

func total(counts map[string]int) int {
	n := 0
	for _, c := range counts {
		n += c
	}
	return n
}

// byVerb sums the counts per verb (list, watch, get, patch, ...).
func byVerb(counts map[string]int) map[string]int {
	out := map[string]int{}
	for k, c := range counts {
		verb, _, _ := strings.Cut(k, " ")
		out[verb] += c
	}
	return out
}

func sortedKeys(m map[string]int) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
