<?php
declare(strict_types=1);

namespace Smtp34\Bitrix\Ui;

/**
 * A page ready to be shown: its title and what goes between Bitrix's admin
 * prolog and epilog. The admin script includes those two itself, at its own
 * file scope: they read $APPLICATION, $USER, $adminPage, $adminMenu and
 * $adminChain from the scope they are included in.
 */
final class Screen
{
    /** @param \Closure(): void $body prints the page */
    public function __construct(public readonly string $title, private readonly \Closure $body)
    {
    }

    public function show(): void
    {
        ($this->body)();
    }
}
