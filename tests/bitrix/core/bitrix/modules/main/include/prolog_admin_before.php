<?php
// Fake of Bitrix's admin prolog (part one): the core is loaded, nothing is printed yet.
