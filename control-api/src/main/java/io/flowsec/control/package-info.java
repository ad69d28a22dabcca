/** The control plane's REST and WebSocket API: an adapter over the data plane's command interface. */
package io.flowsec.control;
