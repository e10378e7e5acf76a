// Command genmanifests writes realistic manifests for benchmarking `preflight -f`:
// apps whose Deployment has probes, a preStop hook and resources, most with a
// Service, some with a PodDisruptionBudget, a HorizontalPodAutoscaler or an
// Ingress, spread over namespaces, with the mistakes preflight reports. The
// output is the same for the same flags.
//
// usage: go run ./scripts/genmanifests -apps N (-dir DIR | -file FILE)
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

func main() {
	apps := flag.Int("apps", 1000, "number of apps (one Deployment each)")
	dir := flag.String("dir", "", "write one file per app into this directory")
	file := flag.String("file", "", "write every app into this multi-document file")
	flag.Parse()
	if err := run(*apps, *dir, *file); err != nil {
		fmt.Fprintln(os.Stderr, "genmanifests:", err)
		os.Exit(1)
	}
}

func run(apps int, dir, file string) error {
	switch {
	case (dir == "") == (file == ""):
		return errors.New("give one of -dir and -file")
	case apps < 1:
		return errors.New("-apps must be at least 1")
	case dir != "":
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		for i := range apps {
			if err := writeFile(filepath.Join(dir, fmt.Sprintf("app-%05d.yaml", i)), func(w io.Writer) error {
				return writeApp(w, i)
			}); err != nil {
				return err
			}
		}
		return nil
	}
	return writeFile(file, func(w io.Writer) error {
		for i := range apps {
			if i > 0 {
				if _, err := io.WriteString(w, "---\n"); err != nil {
					return err
				}
			}
			if err := writeApp(w, i); err != nil {
				return err
			}
		}
		return nil
	})
}

func writeFile(path string, write func(io.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	if err := write(w); err != nil {
		f.Close()
		return err
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// app is one generated application; its fields vary with its number so that
// every check sees passes, warnings and failures.
type app struct {
	name, namespace string
	replicas        int
	grace           int
	sidecar         bool
	typo            bool // a misspelt field: unknown-fields
	paused          bool
	recreate        bool
	probe           string // httpGet, tcpSocket or exec
	preStop         string // sleep, exec, httpGet or none
	service         string // ClusterIP, nlb-ip, alb (with an Ingress) or none
	pdb, hpa        bool
	drainDelay      string // the safe-rollout.io/drain-delay annotation, "" for none
	extras          string // a ConfigMap, or a StatefulSet preflight skips
}

func newApp(i int) app {
	a := app{
		name:      fmt.Sprintf("svc-%05d", i),
		namespace: fmt.Sprintf("team-%02d", i%23),
		replicas:  []int{1, 2, 3, 3, 4, 6}[i%6],
		grace:     []int{30, 30, 45, 60, 20, 90, 30}[i%7],
		sidecar:   i%4 == 1,
		typo:      i%97 == 5,
		paused:    i%151 == 7,
		recreate:  i%61 == 3,
		probe:     []string{"httpGet", "httpGet", "tcpSocket", "exec", "httpGet"}[i%5],
		preStop:   []string{"sleep", "exec", "httpGet", "sleep", "none", "sleep"}[i%6],
		service:   []string{"ClusterIP", "ClusterIP", "nlb-ip", "ClusterIP", "alb", "none", "ClusterIP"}[i%7],
		pdb:       i%3 != 0,
		hpa:       i%4 == 0,
	}
	if i%10 == 0 {
		a.namespace = "" // the namespace of the command line (default)
	}
	if i%9 == 2 {
		a.drainDelay = "8s"
	}
	switch {
	case i%50 == 17:
		a.extras = "statefulset"
	case i%5 == 2:
		a.extras = "configmap"
	}
	return a
}

func writeApp(w io.Writer, i int) error {
	a := newApp(i)
	docs := []string{a.deployment()}
	if s := a.serviceDoc(); s != "" {
		docs = append(docs, s)
	}
	if a.service == "alb" {
		docs = append(docs, a.ingress())
	}
	if a.pdb {
		docs = append(docs, a.pdbDoc())
	}
	if a.hpa {
		docs = append(docs, a.hpaDoc())
	}
	switch a.extras {
	case "statefulset":
		docs = append(docs, a.statefulSet())
	case "configmap":
		docs = append(docs, a.configMap())
	}
	_, err := io.WriteString(w, strings.Join(docs, "---\n"))
	return err
}

func (a app) meta() string {
	m := "metadata:\n  name: " + a.name + "\n"
	if a.namespace != "" {
		m += "  namespace: " + a.namespace + "\n"
	}
	return m
}

func (a app) deployment() string {
	var b strings.Builder
	b.WriteString("apiVersion: apps/v1\nkind: Deployment\n")
	b.WriteString(a.meta())
	fmt.Fprintf(&b, "  labels:\n    app: %s\n    team: %s\n    tier: backend\n", a.name, a.team())
	if a.drainDelay != "" {
		fmt.Fprintf(&b, "  annotations:\n    safe-rollout.io/drain-delay: %q\n", a.drainDelay)
	}
	fmt.Fprintf(&b, "spec:\n  replicas: %d\n  revisionHistoryLimit: 5\n", a.replicas)
	if a.paused {
		b.WriteString("  paused: true\n")
	}
	fmt.Fprintf(&b, "  selector:\n    matchLabels:\n      app: %s\n", a.name)
	if a.recreate {
		b.WriteString("  strategy:\n    type: Recreate\n")
	} else {
		b.WriteString("  strategy:\n    type: RollingUpdate\n    rollingUpdate:\n      maxSurge: 1\n      maxUnavailable: 0\n")
	}
	fmt.Fprintf(&b, "  template:\n    metadata:\n      labels:\n        app: %s\n        team: %s\n        tier: backend\n", a.name, a.team())
	b.WriteString("      annotations:\n        prometheus.io/scrape: \"true\"\n        prometheus.io/port: \"9090\"\n")
	b.WriteString("    spec:\n")
	if a.typo {
		fmt.Fprintf(&b, "      terminationGracePeriodSecond: %d\n", a.grace)
	} else {
		fmt.Fprintf(&b, "      terminationGracePeriodSeconds: %d\n", a.grace)
	}
	b.WriteString("      serviceAccountName: " + a.name + "\n")
	b.WriteString("      securityContext:\n        runAsNonRoot: true\n        runAsUser: 10001\n        fsGroup: 10001\n")
	b.WriteString("      containers:\n")
	b.WriteString(a.appContainer())
	if a.sidecar {
		b.WriteString(sidecarContainer)
	}
	b.WriteString("      volumes:\n        - name: config\n          configMap:\n            name: " + a.name + "-config\n")
	return b.String()
}

func (a app) team() string { return "team-" + a.name[len(a.name)-1:] }

func (a app) appContainer() string {
	var b strings.Builder
	fmt.Fprintf(&b, "        - name: app\n          image: registry.example.com/%s/%s:1.%d.0\n", a.team(), a.name, len(a.name))
	b.WriteString("          imagePullPolicy: IfNotPresent\n")
	b.WriteString("          args: [\"--listen=:8080\", \"--admin=:9090\", \"--log-format=json\"]\n")
	b.WriteString("          env:\n")
	b.WriteString("            - name: POD_NAME\n              valueFrom:\n                fieldRef:\n                  fieldPath: metadata.name\n")
	b.WriteString("            - name: GOMAXPROCS\n              valueFrom:\n                resourceFieldRef:\n                  resource: limits.cpu\n")
	fmt.Fprintf(&b, "            - name: SERVICE_NAME\n              value: %s\n", a.name)
	b.WriteString("          ports:\n            - name: http\n              containerPort: 8080\n            - name: metrics\n              containerPort: 9090\n")
	b.WriteString("          resources:\n            requests:\n              cpu: 100m\n              memory: 128Mi\n            limits:\n              cpu: \"1\"\n              memory: 512Mi\n")
	b.WriteString("          readinessProbe:\n" + a.probeAction("/health/ready", 12) + "            periodSeconds: 2\n            failureThreshold: 2\n            timeoutSeconds: 1\n")
	b.WriteString("          livenessProbe:\n" + a.probeAction("/health/live", 12) + "            periodSeconds: 10\n            failureThreshold: 3\n            timeoutSeconds: 2\n")
	if hook := a.hook(); hook != "" {
		b.WriteString("          lifecycle:\n            preStop:\n" + hook)
	}
	b.WriteString("          volumeMounts:\n            - name: config\n              mountPath: /etc/app\n              readOnly: true\n")
	return b.String()
}

func (a app) probeAction(path string, indent int) string {
	pad := strings.Repeat(" ", indent)
	switch a.probe {
	case "tcpSocket":
		return pad + "tcpSocket:\n" + pad + "  port: http\n"
	case "exec":
		return pad + "exec:\n" + pad + "  command: [\"/bin/healthcheck\", \"" + path + "\"]\n"
	}
	return pad + "httpGet:\n" + pad + "  path: " + path + "\n" + pad + "  port: http\n"
}

func (a app) hook() string {
	switch a.preStop {
	case "sleep":
		return "              sleep:\n                seconds: 5\n"
	case "exec":
		return "              exec:\n                command: [\"/bin/sh\", \"-c\", \"sleep 10\"]\n"
	case "httpGet":
		return "              httpGet:\n                path: /admin/drain\n                port: 9090\n"
	}
	return ""
}

const sidecarContainer = `        - name: proxy
          image: registry.example.com/platform/envoy:1.31.0
          args: ["--config-path", "/etc/envoy/envoy.yaml"]
          ports:
            - name: proxy
              containerPort: 15001
          resources:
            requests:
              cpu: 50m
              memory: 64Mi
            limits:
              memory: 128Mi
          readinessProbe:
            httpGet:
              path: /ready
              port: 15021
            periodSeconds: 5
`

func (a app) serviceDoc() string {
	if a.service == "none" {
		return ""
	}
	var b strings.Builder
	b.WriteString("apiVersion: v1\nkind: Service\n")
	b.WriteString(a.meta())
	fmt.Fprintf(&b, "  labels:\n    app: %s\n", a.name)
	typ := "ClusterIP"
	if a.service == "nlb-ip" {
		typ = "LoadBalancer"
		b.WriteString("  annotations:\n    service.beta.kubernetes.io/aws-load-balancer-type: external\n    service.beta.kubernetes.io/aws-load-balancer-nlb-target-type: ip\n")
	}
	fmt.Fprintf(&b, "spec:\n  type: %s\n  selector:\n    app: %s\n", typ, a.name)
	b.WriteString("  ports:\n    - name: http\n      port: 80\n      targetPort: http\n    - name: metrics\n      port: 9090\n      targetPort: 9090\n")
	return b.String()
}

func (a app) ingress() string {
	var b strings.Builder
	b.WriteString("apiVersion: networking.k8s.io/v1\nkind: Ingress\n")
	b.WriteString(a.meta())
	b.WriteString("  annotations:\n    alb.ingress.kubernetes.io/scheme: internet-facing\n    alb.ingress.kubernetes.io/target-type: ip\n")
	fmt.Fprintf(&b, "spec:\n  ingressClassName: alb\n  rules:\n    - host: %s.example.com\n      http:\n        paths:\n", a.name)
	fmt.Fprintf(&b, "          - path: /\n            pathType: Prefix\n            backend:\n              service:\n                name: %s\n                port:\n                  name: http\n", a.name)
	return b.String()
}

func (a app) pdbDoc() string {
	return "apiVersion: policy/v1\nkind: PodDisruptionBudget\n" + a.meta() +
		"spec:\n  maxUnavailable: 1\n  selector:\n    matchLabels:\n      app: " + a.name + "\n"
}

func (a app) hpaDoc() string {
	return "apiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\n" + a.meta() +
		"spec:\n  scaleTargetRef:\n    apiVersion: apps/v1\n    kind: Deployment\n    name: " + a.name + "\n" +
		"  minReplicas: 2\n  maxReplicas: 10\n  metrics:\n    - type: Resource\n      resource:\n        name: cpu\n        target:\n          type: Utilization\n          averageUtilization: 70\n"
}

func (a app) configMap() string {
	return "apiVersion: v1\nkind: ConfigMap\n" + a.meta() + "data:\n  app.yaml: |\n    listen: :8080\n    admin: :9090\n    log:\n      format: json\n      level: info\n"
}

func (a app) statefulSet() string {
	return "apiVersion: apps/v1\nkind: StatefulSet\n" + a.meta() +
		"spec:\n  serviceName: " + a.name + "-db\n  replicas: 3\n  selector:\n    matchLabels:\n      app: " + a.name + "-db\n" +
		"  template:\n    metadata:\n      labels:\n        app: " + a.name + "-db\n    spec:\n      containers:\n        - name: db\n          image: postgres:16\n"
}
