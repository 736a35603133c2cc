#!/usr/bin/env node
// Validates Kubernetes manifests (YAML documents on stdin, as helm template
// prints them) against the OpenAPI schemas of Kubernetes 1.3x that the
// kubernetes-models package compiles into validators, and the
// ServiceMonitor and PrometheusRule against prometheus-operator's CRD
// schemas (@kubernetes-models/prometheus-operator). Types, required fields,
// enums and formats are checked; an object of a kind neither package knows
// is an error, so nothing passes unchecked.
//
// kubeconform would do the same with JSON schemas fetched from GitHub,
// which the machines that run the tests cannot reach; these packages come
// from the npm registry with their schemas inside.
//
// Prints one line per object and exits 1 when any is invalid.
import { parseAllDocuments } from "yaml";

const input = await new Promise((resolve, reject) => {
  let text = "";
  process.stdin.setEncoding("utf8");
  process.stdin.on("data", (chunk) => (text += chunk));
  process.stdin.on("end", () => resolve(text));
  process.stdin.on("error", reject);
});

// modulePath says where a kind's model lives: the core group is "v1", the
// others "group/version"; prometheus-operator's kinds are a package apart.
function modulePath(apiVersion, kind) {
  if (apiVersion.startsWith("monitoring.coreos.com/")) {
    return `@kubernetes-models/prometheus-operator/${apiVersion}/${kind}`;
  }
  return `kubernetes-models/${apiVersion}/${kind}`;
}

let failed = 0;
let checked = 0;
for (const doc of parseAllDocuments(input)) {
  if (doc.errors.length > 0) {
    console.log(`invalid YAML: ${doc.errors.map((e) => e.message).join("; ")}`);
    failed++;
    continue;
  }
  const obj = doc.toJS();
  if (obj === null || obj === undefined) {
    continue; // an empty document, such as a template that rendered nothing
  }
  const name = `${obj.kind}/${obj.metadata?.name}`;
  if (typeof obj.apiVersion !== "string" || typeof obj.kind !== "string") {
    console.log(`${name}: apiVersion and kind are required`);
    failed++;
    continue;
  }
  let Model;
  try {
    Model = (await import(modulePath(obj.apiVersion, obj.kind)))[obj.kind];
  } catch (err) {
    Model = undefined;
  }
  if (typeof Model !== "function") {
    console.log(`${name}: no schema for ${obj.apiVersion} ${obj.kind}`);
    failed++;
    continue;
  }
  try {
    new Model(obj).validate();
    console.log(`${name}: valid ${obj.apiVersion}`);
    checked++;
  } catch (err) {
    console.log(`${name}: ${err.message}`);
    failed++;
  }
}
console.log(`${checked} valid, ${failed} invalid`);
process.exit(failed > 0 || checked === 0 ? 1 : 0);
