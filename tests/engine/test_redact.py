from bot.engine.redact import redact


def test_secrets_and_emails_are_replaced():
    text = (
        "key AKIAIOSFODNN7EXAMPLE "
        "secret aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY "
        "auth Bearer eyJhbGciOiJIUzI1NiJ9.abc.def token xoxb-1234567890-abcdefghij "
        "app xapp-1-A111-222-abc mail jane.doe@example.com password=hunter2hunter2"
    )
    clean = redact(text)
    for secret in (
        "AKIAIOSFODNN7EXAMPLE",
        "wJalrXUtnFEMI",
        "eyJhbGciOiJIUzI1NiJ9",
        "xoxb-1234567890",
        "xapp-1-A111",
        "jane.doe@example.com",
        "hunter2hunter2",
    ):
        assert secret not in clean
    assert "[REDACTED:email]" in clean and "[REDACTED:aws-access-key]" in clean


def test_ordinary_log_text_is_untouched():
    line = "[ERROR] ThrottlingException when calling InvokeModel: Too many tokens (retries: 4)"
    assert redact(line) == line
