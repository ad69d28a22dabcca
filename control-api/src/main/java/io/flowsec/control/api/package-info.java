/**
 * The REST API's server, resources and request objects: HTTP in, {@link io.flowsec.dataplane.runtime.DataplaneControl}
 * commands and {@link io.flowsec.control.config.ConfigurationChange}s out.
 */
@ModuleGen(name = "flowsec-control-api", groupPackage = "io.flowsec.control")
package io.flowsec.control.api;

import io.vertx.codegen.annotations.ModuleGen;
