"""The playlist tutorial's shape: parameters, an included CSV, two branches and a join."""

import csv

from asyncflow import FlowSpec, IncludeFile, JSONType, Parameter, resources, step


class PlayListFlow(FlowSpec):
    """
    Build a playlist of films in one genre, plus a bonus film from another.

    The film table is a CSV file given on the command line.
    """

    movie_data = IncludeFile("movie_data", help="Path to the CSV of films.", default="movies.csv")
    genre = Parameter("genre", help="Only films of this genre.", default="Sci-Fi")
    recommendations = Parameter("recommendations", help="How many films to pick.", default=2)
    min_score = Parameter("min_score", help="Lowest score a film may have.", default=0.5)
    shuffle = Parameter("shuffle", help="Reverse the picks.", type=bool, default=False)
    config = Parameter("config", help="Extra settings, as JSON.", type=JSONType, default='{"a": 1}')

    @step
    def start(self):
        """Parse the CSV into columns."""
        rows = list(csv.DictReader(self.movie_data.splitlines()))
        self.dataframe = {
            "title": [row["title"] for row in rows],
            "genre": [row["genre"] for row in rows],
            "score": [float(row["score"]) for row in rows],
        }
        self.param_types = {
            name: type(getattr(self, name)).__name__
            for name in ("genre", "recommendations", "min_score", "shuffle", "config")
        }
        self.next(self.bonus_movie, self.genre_movies)

    @step
    def bonus_movie(self):
        """Pick the best film outside the genre."""
        others = [
            (score, title)
            for title, genre, score in zip(*self.dataframe.values(), strict=True)
            if genre != self.genre
        ]
        self.bonus = max(others)[1]
        self.next(self.join)

    @resources(memory=8000, cpu=2)
    @step
    def genre_movies(self):
        """Pick the best films of the genre."""
        picks = sorted(
            (
                (score, title)
                for title, genre, score in zip(*self.dataframe.values(), strict=True)
                if genre == self.genre and score >= self.min_score
            ),
            reverse=True,
        )
        self.playlist = [title for _, title in picks[: self.recommendations]]
        if self.shuffle:
            self.playlist.reverse()
        self.next(self.join)

    @step
    def join(self, inputs):
        """Bring the two picks together."""
        self.playlist = inputs.genre_movies.playlist
        self.bonus = inputs.bonus_movie.bonus
        self.merge_artifacts(inputs)
        self.next(self.end)

    @step
    def end(self):
        """Print the playlist."""
        for position, title in enumerate(self.playlist, start=1):
            print(f"Pick {position}: {title}")
        print(f"Bonus: {self.bonus} ({self.config['a']})")


if __name__ == "__main__":
    PlayListFlow()
