/**
 * What the API server calls to keep strangers out: hashed bearer tokens with roles, a throttle on failed logins, and
 * the TLS certificate and key. Nothing here logs or returns a secret.
 */
package io.flowsec.control.security;
