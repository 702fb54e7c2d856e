// Why: every word the visitor reads comes from this one table, so a translation is one object and nothing else.
(function (root) {
  "use strict";
  var tables = {
    en: {
      locale: "en",
      defaultName: "Waiting room",
      intro: "You are in line. Keep this page open: when it is your turn, we take you through.",
      aheadLabel: "People ahead of you",
      waitLabel: "Estimated wait",
      progressLabel: "Your progress",
      checking: "Checking your place…",
      lastChecked: "Last checked at {t}",
      lessThanMinute: "less than a minute",
      about: "about {x}",
      hour: { one: "{n} hour", other: "{n} hours" },
      minute: { one: "{n} minute", other: "{n} minutes" },
      waitUnknown: "unknown for now (the line is paused)",
      front: "You are at the front of the line. Any moment now.",
      reloadHint: "Your place is kept for 4 days: come back with this link on this device, even if your turn has passed.",
      connection: "Connection problem — we will retry; you keep your place.",
      turn: "It's your turn!",
      turnGo: "If nothing happens, use this link:",
      turnLink: "Continue",
      closed: "The waiting room is closed: no need to wait. Taking you to the site…",
      paused: "Nobody is being let through right now. You keep your place.",
      busy: "The waiting room is busy. You keep your place; we check again in a moment.",
      expired: "Your session has ended, so your place is used up.",
      returning: "Welcome back! Your turn came while you were away: you are at the front again.",
      gone: "No browser confirmed this place in time, so it went to the next person.",
      unknown: "This waiting room has no record of your place.",
      rejoin: "Join the line again",
      joining: "Taking your place in line…",
      noCookies: "Please allow cookies for this site, then join the line."
    },
    de: {
      locale: "de",
      defaultName: "Warteraum",
      intro: "Sie stehen in der Warteschlange. Lassen Sie diese Seite offen: Wenn Sie an der Reihe sind, leiten wir Sie weiter.",
      aheadLabel: "Personen vor Ihnen",
      waitLabel: "Geschätzte Wartezeit",
      progressLabel: "Ihr Fortschritt",
      checking: "Ihr Platz wird geprüft…",
      lastChecked: "Zuletzt geprüft um {t}",
      lessThanMinute: "weniger als eine Minute",
      about: "etwa {x}",
      hour: { one: "{n} Stunde", other: "{n} Stunden" },
      minute: { one: "{n} Minute", other: "{n} Minuten" },
      waitUnknown: "derzeit unbekannt (die Warteschlange ist angehalten)",
      front: "Sie sind ganz vorne. Gleich geht es los.",
      reloadHint: "Ihr Platz bleibt 4 Tage erhalten: Kommen Sie mit diesem Link auf diesem Gerät zurück, auch wenn Sie schon dran waren.",
      connection: "Verbindungsproblem — wir versuchen es erneut; Ihr Platz bleibt erhalten.",
      turn: "Sie sind an der Reihe!",
      turnGo: "Falls nichts passiert, nutzen Sie diesen Link:",
      turnLink: "Weiter",
      closed: "Der Warteraum ist geschlossen: kein Warten nötig. Weiter zur Website…",
      paused: "Gerade wird niemand durchgelassen. Ihr Platz bleibt erhalten.",
      busy: "Der Warteraum ist ausgelastet. Ihr Platz bleibt erhalten; wir prüfen gleich erneut.",
      expired: "Ihre Sitzung ist abgelaufen, Ihr Platz ist verbraucht.",
      returning: "Willkommen zurück! Sie waren an der Reihe, als Sie weg waren: Sie stehen wieder ganz vorne.",
      gone: "Kein Browser hat diesen Platz rechtzeitig bestätigt, er ging an die nächste Person.",
      unknown: "Dieser Warteraum kennt Ihren Platz nicht.",
      rejoin: "Erneut anstellen",
      joining: "Ihr Platz in der Warteschlange wird vergeben…",
      noCookies: "Bitte erlauben Sie Cookies für diese Website und stellen Sie sich dann an."
    },
    fr: {
      locale: "fr",
      defaultName: "Salle d'attente",
      intro: "Vous êtes dans la file. Gardez cette page ouverte : à votre tour, nous vous ferons passer.",
      aheadLabel: "Personnes devant vous",
      waitLabel: "Attente estimée",
      progressLabel: "Votre progression",
      checking: "Vérification de votre place…",
      lastChecked: "Dernière vérification à {t}",
      lessThanMinute: "moins d'une minute",
      about: "environ {x}",
      hour: { one: "{n} heure", other: "{n} heures" },
      minute: { one: "{n} minute", other: "{n} minutes" },
      waitUnknown: "inconnue pour l'instant (la file est en pause)",
      front: "Vous êtes en tête de file. C'est pour bientôt.",
      reloadHint: "Votre place est gardée 4 jours : revenez avec ce lien sur cet appareil, même si votre tour est passé.",
      connection: "Problème de connexion — nous réessayons ; vous gardez votre place.",
      turn: "C'est votre tour !",
      turnGo: "Si rien ne se passe, utilisez ce lien :",
      turnLink: "Continuer",
      closed: "La salle d'attente est fermée : inutile d'attendre. Redirection vers le site…",
      paused: "Personne ne passe pour le moment. Vous gardez votre place.",
      busy: "La salle d'attente est saturée. Vous gardez votre place ; nous vérifions de nouveau dans un instant.",
      expired: "Votre session est terminée : votre place a été utilisée.",
      returning: "Bon retour ! Votre tour est venu en votre absence : vous êtes de nouveau en tête.",
      gone: "Aucun navigateur n'a confirmé cette place à temps : elle est passée à la personne suivante.",
      unknown: "Cette salle d'attente n'a aucune trace de votre place.",
      rejoin: "Reprendre une place",
      joining: "Attribution de votre place dans la file…",
      noCookies: "Autorisez les cookies pour ce site, puis rejoignez la file."
    }
  };

  // First supported language in the visitor's order of preference wins; "de-AT" matches "de".
  function pick(languages) {
    var list = languages && languages.length ? languages : [];
    for (var i = 0; i < list.length; i++) {
      var tag = String(list[i] || "").toLowerCase(), base = tag.split("-")[0];
      if (tables.hasOwnProperty(tag)) return tables[tag];
      if (tables.hasOwnProperty(base)) return tables[base];
    }
    return tables.en;
  }

  var api = { tables: tables, pick: pick };
  if (typeof module !== "undefined" && module.exports) module.exports = api;
  if (root) root.BeekeeperStrings = api;
})(typeof window !== "undefined" ? window : null);
