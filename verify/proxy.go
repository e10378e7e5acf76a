package verify

// A mesh proxy is the pod's own draining hop: the app's requests, in and out,
// go through it, so it must keep forwarding until the app has drained. Its
// readiness timing is the mesh's business and never fails the pod.

import (
	"fmt"
	"time"

	"sigs.k8s.io/yaml"
)

// Istio reads its proxy settings from this pod annotation (a ProxyConfig, YAML or JSON).
const istioProxyConfigAnnotation = "proxy.istio.io/config"

// istioDefaultDrain is Istio's default terminationDrainDuration: pilot-agent keeps
// Envoy forwarding that long after SIGTERM.
const istioDefaultDrain = 5 * time.Second

// proxyPreStop judges how long the proxy keeps forwarding after the pod is
// deleted against the app's drain delay.
func proxyPreStop(ch Check, m member, v *podView, hook preStopHook, drain time.Duration) Check {
	if m.native {
		ch.Status = StatusPass
		ch.Message = "mesh proxy, a native sidecar: the kubelet stops it only after the app containers have exited, so it forwards while the app drains"
		return ch
	}
	wait, how := proxyWait(m, v, hook)
	switch {
	case wait == maxDuration:
		ch.Status, ch.Message = StatusPass, "mesh proxy, judged separately: "+how+" makes it wait until the app's connections have ended"
	case wait >= drain:
		ch.Status = StatusPass
		ch.Message = fmt.Sprintf("mesh proxy, judged separately: %s keeps it forwarding for %s, as long as the %s drain delay", how, seconds(wait), seconds(drain))
	case how == "":
		ch.Status = StatusWarn
		ch.Message = fmt.Sprintf("mesh proxy, judged separately: it receives SIGTERM with the app and has no preStop wait, so it may stop forwarding before the app's %s drain delay ends", seconds(drain))
		ch.Fix = proxyFix(m.c.Name)
	default:
		ch.Status = StatusWarn
		ch.Message = fmt.Sprintf("mesh proxy, judged separately: %s keeps it forwarding only %s after SIGTERM, less than the app's %s drain delay, so it may stop forwarding before the app has drained", how, seconds(wait), seconds(drain))
		ch.Fix = proxyFix(m.c.Name)
	}
	return ch
}

// proxyWait is how long the proxy keeps forwarding after the pod is deleted, and
// what makes it wait ("" when nothing does); maxDuration when it waits for the
// app's connections to end.
func proxyWait(m member, v *podView, hook preStopHook) (time.Duration, string) {
	if hook.sleep > 0 {
		return hook.sleep, "preStop " + hook.description
	}
	if m.c.Name != "istio-proxy" {
		return 0, ""
	}
	cfg := istioProxyConfig(v.annotations[istioProxyConfigAnnotation])
	switch {
	case cfg.ProxyMetadata["EXIT_ON_ZERO_ACTIVE_CONNECTIONS"] == "true":
		return maxDuration, "proxyMetadata EXIT_ON_ZERO_ACTIVE_CONNECTIONS"
	case cfg.TerminationDrainDuration != "":
		if d, err := time.ParseDuration(cfg.TerminationDrainDuration); err == nil {
			return d, "proxy.istio.io/config terminationDrainDuration"
		}
	}
	return istioDefaultDrain, "Istio's default terminationDrainDuration"
}

// istioConfig holds the two ProxyConfig fields that decide how long Envoy outlives SIGTERM.
type istioConfig struct {
	TerminationDrainDuration string            `json:"terminationDrainDuration"`
	ProxyMetadata            map[string]string `json:"proxyMetadata"`
}

// istioProxyConfig reads the annotation; one that does not parse counts as unset,
// which is what Istio's injector falls back to as well.
func istioProxyConfig(raw string) istioConfig {
	var cfg istioConfig
	if raw != "" {
		if err := yaml.Unmarshal([]byte(raw), &cfg); err != nil {
			return istioConfig{}
		}
	}
	return cfg
}

func proxyFix(name string) string {
	switch name {
	case "istio-proxy":
		return `run the proxy as a native sidecar (Istio 1.19+: ENABLE_NATIVE_SIDECARS=true), or make it outlast the drain: proxy.istio.io/config terminationDrainDuration of at least the drain delay, or proxyMetadata EXIT_ON_ZERO_ACTIVE_CONNECTIONS: "true"`
	case "linkerd-proxy":
		return `set config.alpha.linkerd.io/proxy-wait-before-exit-seconds to at least the drain delay, or run the proxy as a native sidecar (config.beta.linkerd.io/proxy-enable-native-sidecar: "true")`
	}
	return "give the proxy a preStop sleep at least as long as the drain delay, or run it as a native sidecar (an initContainer with restartPolicy: Always)"
}
