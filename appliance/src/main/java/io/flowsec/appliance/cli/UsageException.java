package io.flowsec.appliance.cli;

/** Wrong command-line use: the message is printed with a pointer to --help, exit status 2. */
public final class UsageException extends Exception {
    public UsageException(String message) {
        super(message);
    }
}
