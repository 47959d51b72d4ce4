<?php
declare(strict_types=1);

namespace Smtp34\Admin;

/** A page's answer: a title and HTML body for the host's layout, or a redirect. */
final class Response
{
    public function __construct(
        public readonly string $title,
        public readonly string $body,
        public readonly int $status = 200,
        public readonly ?string $redirect = null,
    ) {
    }

    public static function redirect(string $url): self
    {
        return new self('', '', 303, $url);
    }
}
